"""Engine overhead per task on a 1000-task graph of no-op tasks (goal: at most 2 ms per task).

Prints the per-task overhead of the engine against a baseline measured in the same run: the same no-op
functions called directly, each on its own thread, which is the floor for running tasks concurrently.
Run: ``python benchmarks/bench_engine.py``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation

TASKS = 999  # plus the root: Snowflake's 1000-task limit
FAN = 90  # top-level tasks (at most 100 hang off the dummy root)


def noop(session: Any) -> None:
    return None


def build() -> DAG:
    dag = DAG("bench")
    tasks = [DAGTask(f"t{i}", noop, dag=dag) for i in range(TASKS)]
    for i in range(FAN, TASKS):
        tasks[i].add_predecessors(tasks[i - FAN])  # 90 chains of 11: wide and deep
    return dag


def baseline() -> float:
    start = time.perf_counter()
    for _ in range(TASKS):
        t = threading.Thread(target=noop, args=(None,))
        t.start()
        t.join()
    return time.perf_counter() - start


def main() -> None:
    with LocalDAGOperation() as op:
        dag = build()
        op.deploy(dag)
        op.run(dag)  # warm-up: imports, DuckDB statements
        start = time.perf_counter()
        run = op.run(dag)
        engine = time.perf_counter() - start
    assert run.state == "SUCCEEDED", run.first_error_message
    floor = baseline()
    print(f"engine: {engine:.3f} s for {TASKS + 1} tasks = {engine / (TASKS + 1) * 1000:.3f} ms per task")
    print(f"baseline (thread per no-op call): {floor:.3f} s = {floor / TASKS * 1000:.3f} ms per task")
    print(
        f"ratio engine/baseline: {engine / floor:.1f}x; goal <= 2 ms per task: {'met' if engine / (TASKS + 1) <= 0.002 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
