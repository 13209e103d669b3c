"""Crash safety: a run left EXECUTING by a killed process is FAILED at the next start; history stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.store import CRASH_MESSAGE

CHILD = textwrap.dedent(
    """
    import sys, time
    from snowflake.core.task.dagv1 import DAG, DAGTask
    from adapters.simulator import LocalDAGOperation

    with DAG("crashy", use_func_return_value=True) as dag:
        first = DAGTask("first", lambda s: "done before the crash")
        nap = DAGTask("nap", lambda s: (print("sleeping", flush=True), time.sleep(60)))
        first >> nap
    op = LocalDAGOperation(sys.argv[1])
    op.deploy(dag)
    op.run(dag)
    """
)


def test_a_killed_run_is_failed_on_restart_with_its_history(tmp_path: Path) -> None:
    home = tmp_path / "home"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home)], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "sleeping"
        time.sleep(0.7)  # longer than the engine's history flush interval
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    with LocalDAGOperation(home) as op:
        assert op.recovered_runs == 1
        [run] = op.graph_runs("crashy")
        assert run.state == "FAILED" and run.first_error_message == CRASH_MESSAGE
        assert not op.get_current_dag_runs("crashy")
        history = {h.name: (h.state, h.return_value) for h in op.task_history("crashy")}
        assert history["CRASHY$FIRST"] == ("SUCCEEDED", "done before the crash")
