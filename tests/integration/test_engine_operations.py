"""DAGOperation's surface on the simulator: deploy modes and errors, retries, overlap, auto-suspend, schedules."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from snowflake.core._common import CreateMode
from snowflake.core.exceptions import InvalidOperationError
from snowflake.core.task import Cron
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.scheduling import run_scheduler, tick
from adapters.simulator.taskgraph.store import GraphStore
from domain.errors import AlreadyExists, Conflict, InvalidConfig, InvalidName, NotFound
from tests.clocks import FakeClock

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def op(clock: FakeClock) -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation(clock=clock) as operation:
        yield operation


def ok(session: Any) -> str:
    return "ok"


def simple(name: str = "g", **kwargs: Any) -> DAG:
    with DAG(name, **kwargs) as dag:
        DAGTask("a", ok)
    return dag


class Flaky:
    """Fails the first ``failures`` calls, then succeeds; records every call."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, session: Any) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"failure {self.calls}")
        return "fixed"


def test_deploying_over_an_existing_graph_raises_already_exists(op: LocalDAGOperation) -> None:
    op.deploy(simple())
    with pytest.raises(AlreadyExists, match="or_replace"):
        op.deploy(simple())
    with pytest.raises(AlreadyExists):
        op.deploy(simple(), mode=CreateMode.if_not_exists)
    op.deploy(simple(), mode="orReplace")
    assert op.graph_info("g").graph_version == 2


def test_a_cycle_is_refused_with_dagv1s_message_and_nothing_is_stored(op: LocalDAGOperation) -> None:
    with DAG("cyc") as dag:
        a, b = DAGTask("a", ok), DAGTask("b", ok)
        a >> b >> a
    with pytest.raises(ValueError, match="There is a cycle in the task graph"):
        op.deploy(dag)
    assert op.iter_dags(like="cyc") == []


def test_finalizer_misuse_is_refused_by_dagv1_itself() -> None:
    with DAG("fz"):
        f = DAGTask("f", ok, is_finalizer=True)
        with pytest.raises(InvalidOperationError, match="already exists"):
            DAGTask("g", ok, is_finalizer=True)
        with pytest.raises(InvalidOperationError, match="cannot have any successors"):
            f >> DAGTask("x", ok)


def test_a_finalizer_given_predecessors_behind_dagv1s_back_is_refused_at_deploy(
    op: LocalDAGOperation,
) -> None:
    with DAG("fz2") as dag:
        a = DAGTask("a", ok)
        f = DAGTask("f", ok, is_finalizer=True)
        f._predecessors.add(a)
    with pytest.raises(InvalidConfig, match="cannot have any predecessors"):
        op.deploy(dag)


def fan_in(name: str, parents: int) -> DAG:
    """A task with ``parents`` predecessors, hung off two hubs so no task has more than 100 children."""
    with DAG(name) as dag:
        hubs = DAGTask("hub1", ok), DAGTask("hub2", ok)
        sink = DAGTask("sink", ok)
        for i in range(parents):
            hubs[i % 2] >> DAGTask(f"p{i}", ok) >> sink
    return dag


def fan_out(name: str, children: int) -> DAG:
    with DAG(name) as dag:
        hub = DAGTask("hub", ok)
        for i in range(children):
            hub >> DAGTask(f"c{i}", ok)
    return dag


def top_level(name: str, tasks: int) -> DAG:
    """``tasks`` tasks without predecessors (children of the root) and a finalizer, which is not one."""
    with DAG(name) as dag:
        for i in range(tasks):
            DAGTask(f"t{i}", ok)
        DAGTask("fin", ok, is_finalizer=True)
    return dag


def test_a_task_with_100_predecessors_deploys(op: LocalDAGOperation) -> None:
    op.deploy(fan_in("in100", 100))
    assert op.iter_dags(like="in100") == ["IN100"]


def test_a_task_with_101_predecessors_is_refused_at_deploy_and_nothing_is_stored(
    op: LocalDAGOperation,
) -> None:
    with pytest.raises(
        InvalidConfig, match="task sink has 101 predecessors; Snowflake allows a task at most 100"
    ):
        op.deploy(fan_in("in101", 101))
    assert op.iter_dags(like="in101") == []


def test_a_task_with_100_children_deploys(op: LocalDAGOperation) -> None:
    op.deploy(fan_out("out100", 100))
    assert op.iter_dags(like="out100") == ["OUT100"]


def test_a_task_with_101_children_is_refused_at_deploy_and_nothing_is_stored(op: LocalDAGOperation) -> None:
    with pytest.raises(
        InvalidConfig, match="task hub has 101 child tasks; Snowflake allows a task at most 100"
    ):
        op.deploy(fan_out("out101", 101))
    assert op.iter_dags(like="out101") == []


def test_the_root_takes_100_top_level_tasks_besides_the_finalizer(op: LocalDAGOperation) -> None:
    op.deploy(top_level("top100", 100))
    with pytest.raises(InvalidConfig, match="root of task graph top101 has 101 child tasks"):
        op.deploy(top_level("top101", 101))
    assert op.iter_dags(like="top1%") == ["TOP100"]


def test_invalid_names_and_nested_config_are_refused(op: LocalDAGOperation) -> None:
    with pytest.raises(InvalidName, match="bad-name"):
        op.deploy(simple("bad-name"))
    with pytest.raises(InvalidConfig, match="dict"):
        op.deploy(simple("nested", config={"a": {"b": 1}}))


def test_running_a_dropped_or_unknown_graph_raises_not_found(op: LocalDAGOperation) -> None:
    dag = simple()
    op.deploy(dag)
    op.drop(dag, drop_finalizer=True)
    with pytest.raises(NotFound):
        op.run(dag)
    with pytest.raises(NotFound):
        op.run("nothing_here")


def test_drop_keeps_the_finalizer_by_default_so_a_plain_redeploy_conflicts(op: LocalDAGOperation) -> None:
    with DAG("keepfin") as dag:
        DAGTask("a", ok)
        DAGTask("cleanup", ok, is_finalizer=True)
    op.deploy(dag)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        op.drop(dag)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    with pytest.raises(AlreadyExists, match="KEEPFIN\\$CLEANUP"):
        op.deploy(dag)
    op.deploy(dag, mode=CreateMode.or_replace)


def test_iter_dags_matches_like_patterns_case_insensitively(op: LocalDAGOperation) -> None:
    for name in ("sales_daily", "sales_hourly", "ml"):
        op.deploy(simple(name))
    assert op.iter_dags(like="SALES%") == ["SALES_DAILY", "SALES_HOURLY"]
    assert op.iter_dags(like="m_") == ["ML"]


def test_complete_runs_hide_successes_unless_asked(op: LocalDAGOperation) -> None:
    dag = simple()
    op.deploy(dag)
    run = op.run(dag)
    assert op.get_complete_dag_runs(dag) == []
    assert [r.run_id for r in op.get_complete_dag_runs(dag, error_only=False)] == [run.run_id]


def test_history_rows_carry_snowflake_columns(op: LocalDAGOperation) -> None:
    dag = simple()
    op.deploy(dag)
    run = op.run(dag)
    row = op.task_history(dag, run.run_id)[-1]
    assert (row.name, row.state, row.return_value, row.attempt_number) == ("G$A", "SUCCEEDED", None, 1)
    assert row.run_id == run.run_id and row.scheduled_from == "EXECUTE TASK"
    assert row.query_start_time <= row.completed_time and row.graph_run_group_id


def test_automatic_retry_reruns_only_failed_tasks_in_the_same_group(op: LocalDAGOperation) -> None:
    first_calls: list[str] = []
    flaky = Flaky(failures=1)
    with DAG("retry", task_auto_retry_attempts=2, use_func_return_value=True) as dag:
        a = DAGTask("a", lambda s: first_calls.append("a") or "from a")
        b = DAGTask("b", flaky)
        c = DAGTask("c", lambda s: "c")
        DAGTask("cleanup", ok, is_finalizer=True)
        a >> b >> c
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED" and first_calls == ["a"] and flaky.calls == 2
    attempts = op.graph_runs(dag, run_id=run.run_id)
    assert [(r.attempt_number, r.state) for r in attempts] == [(2, "SUCCEEDED"), (1, "FAILED")]
    assert len({r.graph_run_group_id for r in attempts}) == 1
    rows = [(h.name, h.attempt_number, h.state) for h in op.task_history(dag, run.run_id)]
    assert ("RETRY$A", 2, "SUCCEEDED") not in rows and ("RETRY$B", 2, "SUCCEEDED") in rows
    assert sum(1 for n, _, _ in rows if n == "RETRY$CLEANUP") == 2  # once per attempt
    assert attempts[0].scheduled_from == "AUTOMATIC RETRY"


def test_retries_stop_after_the_configured_attempts(op: LocalDAGOperation) -> None:
    flaky = Flaky(failures=5)
    with DAG("giveup", task_auto_retry_attempts=2) as dag:
        DAGTask("b", flaky)
    op.deploy(dag)
    assert op.run(dag).state == "FAILED" and flaky.calls == 3


def test_retry_last_continues_a_failed_run_keeping_succeeded_values(op: LocalDAGOperation) -> None:
    seen: list[str] = []
    flaky = Flaky(failures=1)
    from snowflake.core.task.context import TaskContext

    with DAG("manual", use_func_return_value=True) as dag:
        a = DAGTask("a", lambda s: "value of a")
        b = DAGTask("b", flaky)
        c = DAGTask("c", lambda s: seen.append(TaskContext(s).get_predecessor_return_value("a")))
        a >> b >> c
    op.deploy(dag)
    failed = op.run(dag)
    retried = op.run(dag, retry_last=True)
    assert (failed.state, retried.state) == ("FAILED", "SUCCEEDED")
    assert retried.run_id == failed.run_id and seen == ["value of a"]
    assert op.graph_runs(dag, limit=1)[0].scheduled_from == "MANUAL RETRY"


def test_retry_last_after_a_success_is_refused(op: LocalDAGOperation) -> None:
    dag = simple()
    op.deploy(dag)
    op.run(dag)
    with pytest.raises(Conflict, match="FAILED or CANCELLED; it is SUCCEEDED"):
        op.run(dag, retry_last=True)


def test_auto_suspend_after_consecutive_failed_runs(op: LocalDAGOperation) -> None:
    with DAG("sus", suspend_task_after_num_failures=2, schedule=timedelta(hours=1)) as dag:
        DAGTask("a", Flaky(failures=99))
    op.deploy(dag)
    op.run(dag)
    assert op.graph_info(dag).state == "started"
    run = op.run(dag)
    info = op.graph_info(dag)
    assert (info.state, info.last_suspended_reason) == ("suspended", "SUSPENDED_DUE_TO_ERRORS")
    assert op.task_history(dag, run.run_id)[-1].state == "FAILED_AND_AUTO_SUSPENDED"


def test_a_success_resets_the_failure_count(op: LocalDAGOperation) -> None:
    outcomes = iter([True, False, True])

    def task(session: Any) -> None:
        if next(outcomes):
            raise RuntimeError("planned failure")

    with DAG("reset", suspend_task_after_num_failures=2) as dag:
        DAGTask("a", task)
    op.deploy(dag)
    assert [op.run(dag).state for _ in range(3)] == ["FAILED", "SUCCEEDED", "FAILED"]
    info = op.graph_info(dag)
    assert (info.consecutive_failures, info.last_suspended_reason) == (1, None)


def test_a_manual_run_under_no_overlap_is_queued_behind_the_executing_one(op: LocalDAGOperation) -> None:
    release = threading.Event()
    order: list[str] = []

    def hold(session: Any) -> None:
        order.append("start")
        release.wait(5)
        order.append("end")

    with DAG("q") as dag:
        DAGTask("hold", hold)
    op.deploy(dag)
    first = op.start(dag)
    second = op.start(dag)
    release.set()
    op.wait(dag, first)
    op.wait(dag, second)
    assert order == ["start", "end", "start", "end"]


def test_the_scheduler_fires_due_interval_runs_without_backfill(
    op: LocalDAGOperation, clock: FakeClock
) -> None:
    dag = simple("every_hour", schedule=timedelta(hours=1))
    op.deploy(dag)
    assert tick(op, clock()) == []
    clock.advance(hours=5, minutes=30)  # five times were missed: only one run fires
    started = tick(op, clock())
    assert len(started) == 1 and started[0] == int((T0 + timedelta(hours=1)).timestamp() * 1000)
    op.wait_all()
    assert tick(op, clock()) == []
    assert op.graph_info(dag).next_due == T0 + timedelta(hours=6)
    run = op.graph_runs(dag)[0]
    assert run.scheduled_from == "SCHEDULE" and run.state == "SUCCEEDED"


def test_the_scheduler_honours_cron_in_its_time_zone(op: LocalDAGOperation, clock: FakeClock) -> None:
    dag = simple("cron", schedule=Cron("0 6 * * *", "Europe/Paris"))
    op.deploy(dag)
    clock.set(datetime(2025, 3, 2, 4, 59, tzinfo=UTC))
    assert tick(op, clock()) == []
    clock.set(datetime(2025, 3, 2, 5, 0, tzinfo=UTC))  # 06:00 in Paris
    assert len(tick(op, clock())) == 1


def test_no_overlap_skips_a_scheduled_time_while_the_graph_executes(
    op: LocalDAGOperation, clock: FakeClock
) -> None:
    release = threading.Event()
    with DAG("busy", schedule=timedelta(minutes=1)) as dag:
        DAGTask("hold", lambda s: release.wait(5))
    op.deploy(dag)
    clock.advance(minutes=1)
    assert len(tick(op, clock())) == 1
    clock.advance(minutes=1)
    assert tick(op, clock()) == []
    release.set()
    op.wait_all()


def test_allow_all_overlap_starts_a_scheduled_run_while_one_executes(
    op: LocalDAGOperation, clock: FakeClock
) -> None:
    from snowflake.core.task import OverlapPolicy

    release = threading.Event()
    with DAG("both", schedule=timedelta(minutes=1), overlap_policy=OverlapPolicy.ALLOW_ALL_OVERLAP) as dag:
        DAGTask("hold", lambda s: release.wait(5))
    op.deploy(dag)
    clock.advance(minutes=1)
    tick(op, clock())
    clock.advance(minutes=1)
    assert len(tick(op, clock())) == 1
    release.set()
    op.wait_all()


def test_suspended_graphs_are_not_scheduled(op: LocalDAGOperation, clock: FakeClock) -> None:
    dag = simple("paused", schedule=timedelta(minutes=1))
    op.deploy(dag)
    op.suspend(dag)
    clock.advance(minutes=3)
    assert tick(op, clock()) == []
    op.resume(dag)
    assert op.graph_info(dag).next_due == clock() + timedelta(minutes=1)


def test_the_scheduler_loop_stops_on_its_stop_event(op: LocalDAGOperation, clock: FakeClock) -> None:
    op.deploy(simple("loop", schedule=timedelta(minutes=1)))
    clock.advance(minutes=1)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(op,), kwargs={"clock": clock, "stop_event": stop, "poll_seconds": 0.01}
    )
    thread.start()
    for _ in range(500):
        if op.graph_runs("loop"):
            break
        threading.Event().wait(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and op.graph_runs("loop")[0].state == "SUCCEEDED"


def test_current_runs_show_the_next_scheduled_run(op: LocalDAGOperation) -> None:
    dag = simple("cur", schedule=timedelta(hours=1))
    op.deploy(dag)
    [scheduled] = op.get_current_dag_runs(dag)
    assert scheduled.state == "SCHEDULED" and scheduled.scheduled_time == T0 + timedelta(hours=1)


def test_retry_last_while_a_retry_is_in_progress_is_refused(
    op: LocalDAGOperation, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DAG("rt") as dag:
        DAGTask("a", Flaky(failures=1))
    op.deploy(dag)
    assert op.run(dag).state == "FAILED"
    start_run = GraphStore.start_run

    def late_start_run(store: GraphStore, run: Any) -> None:  # a loaded machine: the run row comes late
        time.sleep(0.05)
        start_run(store, run)

    monkeypatch.setattr(GraphStore, "start_run", late_start_run)
    retry = op.start(dag, retry_last=True)
    with pytest.raises(Conflict, match="still in progress"):
        op.start(dag, retry_last=True)
    assert op.wait(dag, retry).state == "SUCCEEDED"
    assert [r.attempt_number for r in op.graph_runs(dag)] == [2, 1]


def test_under_no_overlap_a_new_execute_replaces_the_queued_run(op: LocalDAGOperation) -> None:
    release = threading.Event()
    configs: list[Any] = []

    def hold(session: Any) -> None:
        configs.append(session.call("SYSTEM$GET_TASK_GRAPH_CONFIG", "n"))
        release.wait(5)

    with DAG("q1") as dag:
        DAGTask("hold", hold)
    op.deploy(dag)
    first = op.start(dag, config={"n": "0"})
    queued = [op.start(dag, config={"n": str(i)}) for i in (1, 2, 3)]
    release.set()
    op.wait_all()
    assert len(set(queued)) == 1 and queued[0] != first
    assert [op.wait(dag, run_id).state for run_id in (first, *queued)] == ["SUCCEEDED"] * 4
    assert len(op.graph_runs(dag)) == 2 and configs == ["0", "3"]


def test_concurrent_launches_at_the_same_millisecond_get_distinct_run_ids(
    op: LocalDAGOperation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snowflake.core.task import OverlapPolicy

    release = threading.Event()
    with DAG("same_ms", overlap_policy=OverlapPolicy.ALLOW_ALL_OVERLAP) as dag:
        DAGTask("hold", lambda s: release.wait(5))
    op.deploy(dag)
    runs = GraphStore.runs

    def slow_runs(store: GraphStore, *args: Any, **kwargs: Any) -> Any:  # widen the race window
        time.sleep(0.02)
        return runs(store, *args, **kwargs)

    monkeypatch.setattr(GraphStore, "runs", slow_runs)
    ids: list[int] = []
    launchers = [threading.Thread(target=lambda: ids.append(op.start(dag))) for _ in range(3)]
    for launcher in launchers:
        launcher.start()
    for launcher in launchers:
        launcher.join()
    release.set()
    op.wait_all()
    assert len(set(ids)) == 3


def test_a_graph_failing_to_start_does_not_stop_the_others(
    op: LocalDAGOperation, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    op.deploy(simple("a_dropped", schedule=timedelta(minutes=1)))
    op.deploy(simple("b_kept", schedule=timedelta(minutes=1)))
    start = op.start

    def start_or_vanish(dag: Any, **kwargs: Any) -> int:
        if dag == "A_DROPPED":
            raise NotFound("task graph A_DROPPED does not exist (dropped between listing and starting)")
        return start(dag, **kwargs)

    monkeypatch.setattr(op, "start", start_or_vanish)
    clock.advance(minutes=1)
    assert len(tick(op, clock())) == 1
    op.wait_all()
    assert op.graph_runs("B_KEPT")[0].state == "SUCCEEDED"
