"""XGBoost's collective tracker in a process of its own, for a distributed training job.

The tracker's loop is native code on a thread of the process that starts it (xgboost/tracker.py
``RabitTracker.start``); when a worker dies mid-allreduce it can end in ``std::terminate``, which aborts that
whole process. Started inside the simulator's own process it took the CLI (or the scheduler holding the home)
down with it; here it takes only itself, and the supervisor reports the worker's death as the job's failure.

``python -m adapters.simulator.jobs.tracker N TIMEOUT`` prints the workers' communicator arguments (JSON) on one
line, then keeps the tracker up until its stdin closes (the supervisor closes it, or dies).
"""

from __future__ import annotations

import contextlib
import json
import sys


def main() -> None:
    import xgboost as xgb
    from xgboost.tracker import RabitTracker

    workers, timeout = int(sys.argv[1]), int(sys.argv[2])
    tracker = RabitTracker(n_workers=workers, host_ip="127.0.0.1", sortby="task", timeout=timeout)
    tracker.start()
    print(json.dumps(tracker.worker_args()), flush=True)
    sys.stdin.read()
    with contextlib.suppress(xgb.core.XGBoostError):  # after a failure it reports the lost workers
        tracker.free()


if __name__ == "__main__":
    main()
