"""Cancelling a graph's ongoing executions (SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS) on the simulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.scheduler_port import SimScheduler
from domain.errors import NotFound
from domain.graph import GraphRunState, GraphSpec, TaskKind, TaskSpec

WAIT = 30.0  # generous bound on events; a healthy run takes milliseconds


class Gate:
    """A task body that blocks its first call until released; records every call."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, session: Any) -> str:
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            self.release.wait(WAIT)
        return "through"


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release.set()  # let the abandoned thread end


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []

    def task(self, name: str) -> Any:
        return lambda session: self.names.append(name)


def blocked_graph(gate: Gate, calls: Calls, **kwargs: Any) -> DAG:
    with DAG("cancelme", **kwargs) as dag:
        first = DAGTask("first", calls.task("first"))
        first >> DAGTask("blocker", gate) >> DAGTask("after", calls.task("after"))
        DAGTask("cleanup", calls.task("cleanup"), is_finalizer=True)
    return dag


def started_and_cancelled(op: LocalDAGOperation, dag: DAG, gate: Gate) -> int:
    op.deploy(dag)
    run_id = op.start(dag)
    assert gate.started.wait(WAIT)
    assert op.cancel(dag) == [run_id]
    return run_id


def test_cancel_ends_the_executing_task_cancelled_and_the_run_cancelled(
    op: LocalDAGOperation, gate: Gate
) -> None:
    dag = blocked_graph(gate, Calls())
    run_id = started_and_cancelled(op, dag, gate)
    assert op.wait(dag, run_id, timeout=WAIT).state == "CANCELLED"
    assert op.task_states(dag, run_id) == {
        "first": "SUCCEEDED",
        "blocker": "CANCELLED",
        "after": "NOT_EXECUTED",
        "cleanup": "SUCCEEDED",
    }


def test_the_finalizer_still_runs_after_a_cancel_and_tasks_not_started_do_not_run(
    op: LocalDAGOperation, gate: Gate
) -> None:
    calls = Calls()
    dag = blocked_graph(gate, calls)
    op.wait(dag, started_and_cancelled(op, dag, gate), timeout=WAIT)
    assert calls.names == ["first", "cleanup"]


def test_history_shows_the_cancelled_task_as_cancelled(op: LocalDAGOperation, gate: Gate) -> None:
    dag = blocked_graph(gate, Calls())
    run_id = started_and_cancelled(op, dag, gate)
    op.wait(dag, run_id, timeout=WAIT)
    rows = {r.name: r for r in op.task_history(dag, run_id)}
    assert rows["CANCELME$BLOCKER"].state == "CANCELLED"
    assert rows["CANCELME$BLOCKER"].error_code == 604
    assert "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS" in (rows["CANCELME$BLOCKER"].error_message or "")
    assert "CANCELME$AFTER" not in rows
    assert op.get_complete_dag_runs(dag)[0].state == "CANCELLED"


def test_a_cancelled_run_is_not_retried_automatically(op: LocalDAGOperation, gate: Gate) -> None:
    dag = blocked_graph(gate, Calls(), task_auto_retry_attempts=2)
    run_id = started_and_cancelled(op, dag, gate)
    op.wait(dag, run_id, timeout=WAIT)
    assert [r.attempt_number for r in op.graph_runs(dag, run_id=run_id)] == [1]
    assert gate.calls == 1


def test_a_task_failing_after_a_cancel_makes_the_run_failed_without_a_retry(
    op: LocalDAGOperation, gate: Gate
) -> None:
    def boom(session: Any) -> None:
        raise RuntimeError("cleanup broke")

    with DAG("failwins", task_auto_retry_attempts=1) as dag:
        DAGTask("blocker", gate)
        DAGTask("cleanup", boom, is_finalizer=True)
    run_id = started_and_cancelled(op, dag, gate)
    assert op.wait(dag, run_id, timeout=WAIT).state == "FAILED"
    assert op.task_states(dag, run_id) == {"blocker": "CANCELLED", "cleanup": "FAILED"}
    assert len(op.graph_runs(dag, run_id=run_id)) == 1


def test_retry_last_after_a_cancel_reruns_the_cancelled_task_and_keeps_what_succeeded(
    op: LocalDAGOperation, gate: Gate
) -> None:
    calls = Calls()
    dag = blocked_graph(gate, calls)
    run_id = started_and_cancelled(op, dag, gate)
    op.wait(dag, run_id, timeout=WAIT)
    retried = op.run(dag, retry_last=True)
    assert retried.state == "SUCCEEDED" and retried.run_id == run_id
    assert gate.calls == 2
    assert calls.names == ["first", "cleanup", "after", "cleanup"]


def test_cancel_drops_a_queued_run(op: LocalDAGOperation, gate: Gate) -> None:
    dag = blocked_graph(gate, Calls())
    op.deploy(dag)
    executing = op.start(dag)
    assert gate.started.wait(WAIT)
    queued = op.start(dag)
    assert op.cancel(dag) == [executing, queued]
    assert op.wait(dag, executing, timeout=WAIT).state == "CANCELLED"
    op.wait_all()  # the dropped run has ended too: wait still knows it
    assert op.wait(dag, queued, timeout=WAIT).state == "CANCELLED"
    assert op.graph_runs(dag, run_id=queued) == []


def test_a_task_blocked_in_a_long_duckdb_query_is_interrupted(op: LocalDAGOperation) -> None:
    started, stopped = threading.Event(), threading.Event()

    def heavy(session: Any) -> None:
        started.set()
        try:
            session.sql("select count(*) from range(40000000000) t(i) where i % 7 = 3").collect()
        finally:
            stopped.set()

    with DAG("heavysql") as dag:
        DAGTask("heavy", heavy)
    op.deploy(dag)
    run_id = op.start(dag)
    assert started.wait(WAIT)
    op.cancel(dag)
    assert stopped.wait(WAIT)  # the statement was interrupted, not left to run for minutes
    assert op.wait(dag, run_id, timeout=WAIT).state == "CANCELLED"
    assert op.task_states(dag, run_id) == {"heavy": "CANCELLED"}


def test_cancelling_a_graph_with_nothing_running_returns_no_runs(op: LocalDAGOperation, gate: Gate) -> None:
    dag = blocked_graph(gate, Calls())
    op.deploy(dag)
    assert op.cancel(dag) == []


def test_cancelling_a_graph_that_does_not_exist_is_not_found(op: LocalDAGOperation) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        op.cancel("nope")


def test_a_sql_task_cancels_another_graph_by_its_qualified_name(op: LocalDAGOperation, gate: Gate) -> None:
    dag = blocked_graph(gate, Calls())
    op.deploy(dag)
    run_id = op.start(dag)
    assert gate.started.wait(WAIT)
    with DAG("canceller") as other:
        DAGTask(
            "stop",
            "call system$set_return_value("
            "system$user_task_cancel_ongoing_executions('SIMULATOR.PUBLIC.CANCELME'))",
        )
    op.deploy(other)
    assert op.run(other).state == "SUCCEEDED"
    assert op.wait(dag, run_id, timeout=WAIT).state == "CANCELLED"
    [row] = [r for r in op.task_history(other) if r.name == "CANCELLER$STOP"]
    assert row.return_value == f"Cancelled 1 ongoing execution(s): [{run_id}]"


def test_a_task_cancelling_its_own_graph_ends_the_run_cancelled(op: LocalDAGOperation) -> None:
    def stop_my_graph(session: Any) -> None:
        session.sql("select system$user_task_cancel_ongoing_executions('SELFSTOP')").collect()

    with DAG("selfstop") as dag:
        DAGTask("stop", stop_my_graph) >> DAGTask("after", lambda s: "never")
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "CANCELLED"
    assert op.task_states(dag, run.run_id) == {"stop": "CANCELLED", "after": "NOT_EXECUTED"}


def test_the_scheduler_port_cancels_by_graph_name_and_waits_on_a_dropped_queued_run(
    op: LocalDAGOperation, gate: Gate
) -> None:
    scheduler = SimScheduler(op, lambda spec: gate)
    scheduler.deploy(GraphSpec(name="port", tasks=(TaskSpec("blocker", TaskKind.PYTHON, "gate"),)))
    executing = scheduler.run("port")
    assert gate.started.wait(WAIT)
    queued = scheduler.run("port")
    assert scheduler.cancel("port") == [executing, queued]
    assert scheduler.wait("port", executing, timeout=WAIT).state is GraphRunState.CANCELLED
    assert scheduler.wait("port", queued, timeout=WAIT).state is GraphRunState.CANCELLED
    assert scheduler.cancel("port") == []
