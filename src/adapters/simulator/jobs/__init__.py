"""``domain.ports.JobRunner`` on the simulator: the runner (runner.py) launches ``python -m`` worker processes
(worker.py) that run the training payload (training.py).

Nothing is imported here: every worker process imports this package first.
"""
