"""The domain Scheduler port over the engine: GraphSpec in, GraphRun and TaskRun out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.scheduler_port import SimScheduler
from domain.errors import NotFound
from domain.graph import GraphRunState, GraphSpec, TaskKind, TaskSpec, TaskState
from domain.ports import Scheduler

GATE = threading.Event()

STAGES: dict[str, Any] = {
    "prepare": lambda s: "data",
    "check": lambda s: "promote",
    "promote": lambda s: GATE.wait(5) and "promoted",
    "alert": lambda s: "alerted",
    "cleanup": lambda s: "clean",
}


def definition_for(spec: TaskSpec) -> Any:
    return spec.definition if spec.kind is TaskKind.SQL else STAGES[spec.definition]


GRAPH = GraphSpec(
    name="pipeline",
    tasks=(
        TaskSpec("prepare", TaskKind.PYTHON, "prepare"),
        TaskSpec("check", TaskKind.PYTHON, "check", predecessors=("prepare",), is_branch=True),
        TaskSpec("promote", TaskKind.PYTHON, "promote", predecessors=("check",)),
        TaskSpec("alert", TaskKind.PYTHON, "alert", predecessors=("check",)),
        TaskSpec("cleanup", TaskKind.PYTHON, "cleanup", is_finalizer=True),
    ),
    config={"threshold": 0.7},
)


@pytest.fixture
def scheduler() -> Iterator[SimScheduler]:
    GATE.set()
    with LocalDAGOperation() as op:
        yield SimScheduler(op, definition_for)


def test_it_implements_the_port(scheduler: SimScheduler) -> None:
    assert isinstance(scheduler, Scheduler)


def test_deploy_run_and_wait_give_a_graph_run_with_every_task(scheduler: SimScheduler) -> None:
    scheduler.deploy(GRAPH)
    scheduler.deploy(GRAPH)  # or-replace
    run = scheduler.wait("pipeline", scheduler.run("pipeline"), timeout=30)
    assert run.state is GraphRunState.SUCCEEDED
    states = {t.short_name: t.state for t in run.tasks}
    assert states == {
        "PREPARE": TaskState.SUCCEEDED,
        "CHECK": TaskState.SUCCEEDED,
        "PROMOTE": TaskState.SUCCEEDED,
        "ALERT": TaskState.SKIPPED,
        "CLEANUP": TaskState.SUCCEEDED,
    }
    assert scheduler.runs("pipeline")[0].run_id == run.run_id
    assert {t.name for t in scheduler.task_history("pipeline", run.run_id)} >= {"PIPELINE$PROMOTE"}


def test_task_states_are_visible_while_the_run_progresses(scheduler: SimScheduler) -> None:
    scheduler.deploy(GRAPH)
    GATE.clear()
    run_id = scheduler.run("pipeline")
    for _ in range(500):
        live = scheduler.live_task_states("pipeline", run_id)
        if live and live.get("promote") == "EXECUTING":
            break
        threading.Event().wait(0.01)
    assert live is not None and live["promote"] == "EXECUTING" and live["prepare"] == "SUCCEEDED"
    GATE.set()
    assert scheduler.wait("pipeline", run_id, timeout=30).state is GraphRunState.SUCCEEDED
    assert scheduler.live_task_states("pipeline", run_id) is None


def test_the_structure_reads_back_tasks_edges_and_finalizer(scheduler: SimScheduler) -> None:
    scheduler.deploy(GRAPH)
    structure = scheduler.structure("pipeline")
    assert structure["finalizer"] == "cleanup"
    preds = {t["name"]: t["predecessors"] for t in structure["tasks"]}
    assert preds == {
        "prepare": [],
        "check": ["prepare"],
        "promote": ["check"],
        "alert": ["check"],
        "cleanup": [],
    }


def test_drop_removes_the_graph(scheduler: SimScheduler) -> None:
    scheduler.deploy(GRAPH)
    scheduler.drop("pipeline")
    with pytest.raises(NotFound):
        scheduler.run("pipeline")
    with pytest.raises(NotFound):
        scheduler.drop("pipeline")
