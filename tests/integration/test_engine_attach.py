"""A graph deployed by one process runs on schedule in another that attaches its definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.scheduling import tick
from domain.errors import Conflict, NotFound
from tests.clocks import FakeClock

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def hello(session: object) -> str:
    return "hello"


def build(*, extra_task: bool = False) -> DAG:
    with DAG("NIGHTLY", schedule=timedelta(hours=12), use_func_return_value=True) as dag:
        first = DAGTask("hello", definition=hello)
        if extra_task:
            first >> DAGTask("more", definition=hello)
    return dag


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = FakeClock(T0)
    with LocalDAGOperation(tmp_path, clock=clock) as op:
        op.deploy(build())
    return tmp_path


def test_a_process_without_the_definitions_skips_the_due_graph(home: Path) -> None:
    with LocalDAGOperation(home, clock=FakeClock(T0)) as op:
        assert tick(op, T0 + timedelta(hours=12, minutes=1)) == []


def test_an_attached_graph_runs_when_due_and_keeps_its_schedule(home: Path) -> None:
    with LocalDAGOperation(home, clock=FakeClock(T0)) as op:
        op.attach(build())

        (run_id,) = tick(op, T0 + timedelta(hours=12, minutes=1))
        run = op.wait("NIGHTLY", run_id)

        assert run.state == "SUCCEEDED"
        assert op.graph_info("NIGHTLY").schedule == "12h"


def test_attaching_a_graph_of_another_shape_is_refused(home: Path) -> None:
    with LocalDAGOperation(home) as op, pytest.raises(Conflict, match="deploy it again"):
        op.attach(build(extra_task=True))


def test_attaching_a_graph_that_is_not_deployed_is_refused(tmp_path: Path) -> None:
    with LocalDAGOperation(tmp_path / "empty") as op, pytest.raises(NotFound, match="deploy it first"):
        op.attach(build())
