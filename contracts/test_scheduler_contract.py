"""Scheduler contract (``domain.ports.Scheduler``), run against every selected backend.

Graphs are made of SQL tasks, which every backend runs as they are; each has a name unique to the test and is
dropped afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress

import pytest

from contracts.support import Backend, unique_name
from domain.errors import Conflict, InvalidConfig, NotFound
from domain.graph import GraphRunState, GraphSpec, TaskKind, TaskSpec, TaskState
from domain.ports import Scheduler
from domain.schedule import parse_schedule


@pytest.fixture
def scheduler(backend: Backend) -> Scheduler:
    return backend.scheduler()


@pytest.fixture
def name(scheduler: Scheduler) -> Iterator[str]:
    graph = unique_name("GRAPH")
    yield graph
    with suppress(NotFound):
        scheduler.drop(graph)


def small_graph(name: str, *, slow_sql: str = "SELECT 1", **options: object) -> GraphSpec:
    """prepare → train → check, and a finalizer; ``slow_sql`` is what ``train`` runs."""
    return GraphSpec(
        name=name,
        tasks=(
            TaskSpec("PREPARE", TaskKind.SQL, "SELECT 1"),
            TaskSpec("TRAIN", TaskKind.SQL, slow_sql, predecessors=("PREPARE",)),
            TaskSpec("CHECK", TaskKind.SQL, "SELECT 1", predecessors=("TRAIN",)),
            TaskSpec("CLEANUP", TaskKind.SQL, "SELECT 1", is_finalizer=True),
        ),
        config={"threshold": 0.7},
        **options,  # type: ignore[arg-type]
    )


def test_the_scheduler_implements_the_port(scheduler: Scheduler) -> None:
    assert isinstance(scheduler, Scheduler)


def test_a_run_of_a_deployed_graph_succeeds_with_every_task(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))

    run = scheduler.wait(name, scheduler.run(name), timeout=120)

    assert run.state is GraphRunState.SUCCEEDED and run.run_id.isdigit()
    states = {t.short_name: t.state for t in run.tasks}
    assert states == dict.fromkeys(("PREPARE", "TRAIN", "CHECK", "CLEANUP"), TaskState.SUCCEEDED)


def test_deploying_again_replaces_the_graph(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))
    scheduler.deploy(small_graph(name).with_config(threshold=0.9))

    assert scheduler.deployed(name).config["threshold"] == 0.9
    assert scheduler.wait(name, scheduler.run(name), timeout=120).state is GraphRunState.SUCCEEDED


def test_runs_are_listed_newest_first_with_their_task_history(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))
    first = scheduler.wait(name, scheduler.run(name), timeout=120)
    second = scheduler.wait(name, scheduler.run(name), timeout=120)

    assert [r.run_id for r in scheduler.runs(name)[:2]] == [second.run_id, first.run_id]
    assert len(scheduler.runs(name, limit=1)) == 1
    task_names = {t.name for t in scheduler.task_history(name, first.run_id)}
    assert {f"{name}$PREPARE", f"{name}$CHECK", f"{name}$CLEANUP"} <= task_names
    assert len(scheduler.task_history(name)) > len(scheduler.task_history(name, first.run_id))


def test_listed_runs_carry_their_tasks(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))
    scheduler.wait(name, scheduler.run(name), timeout=120)

    (listed,) = scheduler.runs(name, limit=1)

    assert {t.short_name: t.state for t in listed.tasks} == dict.fromkeys(
        ("PREPARE", "TRAIN", "CHECK", "CLEANUP"), TaskState.SUCCEEDED
    )


def test_run_detail_is_the_run_with_that_id_and_its_tasks(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))
    first = scheduler.wait(name, scheduler.run(name), timeout=120)
    scheduler.wait(name, scheduler.run(name), timeout=120)

    detail = scheduler.run_detail(name, first.run_id)

    assert (detail.run_id, detail.state) == (first.run_id, GraphRunState.SUCCEEDED)
    assert {t.short_name for t in detail.tasks} == {"PREPARE", "TRAIN", "CHECK", "CLEANUP"}


def test_run_detail_of_a_run_id_the_graph_never_had_is_not_found(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))

    with pytest.raises(NotFound, match="123"):
        scheduler.run_detail(name, "123")


def test_run_detail_of_a_run_id_that_is_not_one_is_invalid(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))

    with pytest.raises(InvalidConfig, match="not-a-run"):
        scheduler.run_detail(name, "not-a-run")


def test_an_unscheduled_graph_is_deployed_suspended_with_its_config(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))

    deployed = scheduler.deployed(name)

    assert (deployed.schedule, deployed.state) == (None, "suspended")
    assert deployed.config["threshold"] == 0.7


def test_a_scheduled_graph_is_deployed_started(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name, schedule=parse_schedule("60m")))

    deployed = scheduler.deployed(name)

    assert deployed.schedule is not None and deployed.state == "started"


def test_suspend_and_resume_move_the_graph_between_suspended_and_started(
    scheduler: Scheduler, name: str
) -> None:
    scheduler.deploy(small_graph(name, schedule=parse_schedule("60m")))

    scheduler.suspend(name)
    assert scheduler.deployed(name).state == "suspended"
    scheduler.resume(name)
    assert scheduler.deployed(name).state == "started"
    scheduler.suspend(name)  # leave nothing scheduled behind on a shared account


def test_cancelling_with_nothing_running_returns_no_run_ids(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))
    scheduler.wait(name, scheduler.run(name), timeout=120)

    assert scheduler.cancel(name) == []


def test_cancel_stops_the_run_and_still_runs_the_finalizer(
    scheduler: Scheduler, name: str, long_running_sql: str
) -> None:
    scheduler.deploy(small_graph(name, slow_sql=long_running_sql))
    run_id = scheduler.run(name)
    time.sleep(1)  # let the run reach its slow task (the simulator's history is busy while it runs)
    deadline = time.monotonic() + 60
    cancelled = scheduler.cancel(name)
    while not cancelled and time.monotonic() < deadline:  # a real account lists the run a little later
        time.sleep(0.5)
        cancelled = scheduler.cancel(name)

    assert cancelled == [run_id]
    run = scheduler.wait(name, run_id, timeout=120)
    states = {t.short_name: t.state for t in run.tasks}
    assert run.state is GraphRunState.CANCELLED
    assert states["CLEANUP"] is TaskState.SUCCEEDED
    assert TaskState.SUCCEEDED not in (states.get("TRAIN"), states.get("CHECK"))
    assert [r.run_id for r in scheduler.runs(name)] == [run_id]  # no automatic retry followed


def test_a_run_config_override_leaves_the_deployed_config_unchanged(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))

    run = scheduler.wait(name, scheduler.run(name, config={"threshold": 0.9}), timeout=120)

    assert run.state is GraphRunState.SUCCEEDED and scheduler.deployed(name).config["threshold"] == 0.7


def test_retry_last_after_a_successful_run_is_a_conflict_and_starts_nothing(
    scheduler: Scheduler, name: str
) -> None:
    scheduler.deploy(small_graph(name))
    scheduler.wait(name, scheduler.run(name), timeout=120)

    with pytest.raises(Conflict, match="FAILED or CANCELLED"):
        scheduler.run(name, retry_last=True)
    assert len(scheduler.runs(name)) == 1


def test_drop_removes_the_graph(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))

    scheduler.drop(name)

    with pytest.raises(NotFound):
        scheduler.deployed(name)
    with pytest.raises(NotFound):
        scheduler.run(name)


@pytest.mark.parametrize("operation", ["run", "deployed", "suspend", "resume", "drop", "cancel"])
def test_a_graph_that_is_not_deployed_is_not_found(scheduler: Scheduler, name: str, operation: str) -> None:
    with pytest.raises(NotFound, match=name):
        getattr(scheduler, operation)(name)


def test_waiting_for_a_run_id_that_is_not_one_is_invalid(scheduler: Scheduler, name: str) -> None:
    scheduler.deploy(small_graph(name))

    with pytest.raises(InvalidConfig, match="not-a-run"):
        scheduler.wait(name, "not-a-run", timeout=5)
