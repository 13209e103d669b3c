"""Crash safety: a run left EXECUTING by a killed process is FAILED at the next start; history stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.store import CRASH_MESSAGE, PROCESS, GraphStore
from domain.errors import BackendUnavailable
from tests.support.graph_runs import executing_run

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


def test_a_run_left_by_a_crashed_process_with_the_same_pid_is_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restarted container's process has the crashed one's pid (1): only the process token tells them apart.
    with LocalDAGOperation(tmp_path) as op, monkeypatch.context() as crashed:
        crashed.setattr(PROCESS, "value", "token-of-the-crashed-process")
        op.store.start_run(executing_run("SAMEPID"))  # written with this pid
    with LocalDAGOperation(tmp_path) as op:
        assert op.recovered_runs == 1
        [run] = op.graph_runs("SAMEPID")
        assert run.state == "FAILED" and run.first_error_message == CRASH_MESSAGE


def test_a_run_of_this_process_is_not_taken_for_a_crashed_one(tmp_path: Path) -> None:
    with LocalDAGOperation(tmp_path) as op:
        op.store.start_run(executing_run("MINE"))
        assert op.store.recover_abandoned(datetime.now(UTC)) == []
        assert op.graph_runs("MINE")[0].state == "EXECUTING"


def test_a_store_error_during_a_run_ends_it_failed_with_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(store: GraphStore, history: object, **kwargs: object) -> bool:
        raise BackendUnavailable("disk full")

    monkeypatch.setattr(GraphStore, "append_history", disk_full)
    with LocalDAGOperation(tmp_path) as op:
        with DAG("flushfail") as dag:
            first = DAGTask("first", lambda s: None)
            nap = DAGTask("nap", lambda s: time.sleep(0.3))  # long enough for a flush of FIRST's row
            first >> nap
        op.deploy(dag)
        run = op.run(dag)
        assert run.state == "FAILED" and "disk full" in (run.first_error_message or "")
        assert [r.state for r in op.graph_runs(dag)] == ["FAILED"]
        assert not op.get_current_dag_runs(dag)
