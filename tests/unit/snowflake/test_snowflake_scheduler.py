"""Deploy issues dagv1's calls in order against recording snowflake.core fakes; run/wait follow their own run."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from adapters.snowflake.scheduler import SnowflakeScheduler
from adapters.snowflake.session import SnowflakeNames
from domain.config import PipelineConfig
from domain.errors import InvalidConfig, JobTimeout, NotFound
from domain.graph import GraphRunState, GraphSpec, TaskState
from domain.pipeline import pipeline_graph
from domain.schedule import IntervalSchedule
from tests.unit.snowflake.sf_fakes import FakeSchema, ScriptedSession

G = "MORTGAGE_PIPELINE"
T0 = datetime(2026, 2, 10, 9, 28, 49)


def task_function(session: object) -> str:
    return "done"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _scheduler(
    session: Any = None, schema: FakeSchema | None = None
) -> tuple[SnowflakeScheduler, FakeSchema]:
    schema = schema or FakeSchema()
    clock = Clock()
    scheduler = SnowflakeScheduler(
        session or ScriptedSession(),
        SnowflakeNames(),
        lambda spec: task_function,
        schema=schema,
        poll_seconds=1.0,
        appear_timeout=10.0,
        clock=clock,
        sleep=clock.sleep,
    )
    return scheduler, schema


def _graph(schedule: IntervalSchedule | None = None) -> GraphSpec:
    return pipeline_graph(PipelineConfig(), name=G, warehouse="DEMO_WH", schedule=schedule)


CREATE_AND_RESUME_CHILDREN = [
    call
    for name in (
        "prepare_data",
        "train_model",
        "check_model_quality",
        "cleanup",
        "send_alert",
        "promote_model",
    )
    for call in (("create", f"{G}${name}", "orReplace"), ("resume", f"{G}${name}"))
]


def test_first_deploy_creates_the_root_then_each_child_resumed_in_topological_order() -> None:
    scheduler, schema = _scheduler()
    scheduler.deploy(_graph())
    assert schema.tasks.calls == [
        ("fetch", G),  # our own drop, finalizer included: nothing there yet
        ("fetch", G),  # dagv1's or_replace drop
        ("create", G, "errorIfExists"),
        *CREATE_AND_RESUME_CHILDREN,
    ]


def test_a_scheduled_graph_has_its_root_resumed_last() -> None:
    scheduler, schema = _scheduler()
    scheduler.deploy(_graph(IntervalSchedule(timedelta(days=1))))
    assert schema.tasks.calls[-1] == ("resume", G)
    assert schema.tasks.states[G] == "started"


def test_an_unscheduled_graph_leaves_its_root_suspended() -> None:
    scheduler, schema = _scheduler()
    scheduler.deploy(_graph())
    assert schema.tasks.states[G] == "suspended"
    assert all(state == "started" for name, state in schema.tasks.states.items() if name != G)


def test_redeploy_suspends_the_root_and_drops_every_task_including_the_finalizer_first() -> None:
    scheduler, schema = _scheduler()
    scheduler.deploy(_graph(IntervalSchedule(timedelta(days=1))))
    schema.tasks.clear_calls()
    scheduler.deploy(_graph())
    calls = schema.tasks.calls
    assert calls[:3] == [("fetch", G), ("suspend", G), ("fetch_task_dependents", G)]
    dropped = [c[1] for c in calls if c[0] == "drop"]
    assert set(dropped) == {
        G,
        *(
            f"{G}${n}"
            for n in (
                "prepare_data",
                "train_model",
                "check_model_quality",
                "promote_model",
                "send_alert",
                "cleanup",
            )
        ),
    }
    assert dropped[-1] == G  # dependents are dropped in reverse, the root last
    first_create = calls.index(("create", G, "errorIfExists"))
    assert all(calls.index(("drop", name)) < first_create for name in dropped)
    assert calls[first_create + 1 :] == CREATE_AND_RESUME_CHILDREN


def test_drop_of_an_undeployed_graph_is_not_found() -> None:
    scheduler, _ = _scheduler()
    with pytest.raises(NotFound, match="not deployed"):
        scheduler.drop(G)


def test_suspend_and_resume_act_on_the_root() -> None:
    scheduler, schema = _scheduler()
    scheduler.deploy(_graph())
    scheduler.resume(G)
    assert schema.tasks.states[G] == "started"
    scheduler.suspend(G)
    assert schema.tasks.states[G] == "suspended"


# --- run and monitoring ---------------------------------------------------------------------------------


def _graph_row(
    run_id: int, state: str, attempt: int = 1, scheduled_from: str = "EXECUTE TASK"
) -> dict[str, Any]:
    return {
        "ROOT_TASK_NAME": G,
        "RUN_ID": run_id,
        "STATE": state,
        "SCHEDULED_TIME": T0 + timedelta(seconds=run_id // 1000),
        "ATTEMPT_NUMBER": attempt,
        "SCHEDULED_FROM": scheduled_from,
        "ROOT_TASK_ID": "01b2-root",
        "FIRST_ERROR_TASK_NAME": None,
        "FIRST_ERROR_MESSAGE": None,
    }


class Account:
    """Graph-run views that change when the root is executed, and a task history."""

    def __init__(self) -> None:
        self.current: list[dict[str, Any]] = []
        self.complete: list[dict[str, Any]] = [_graph_row(1000, "SUCCEEDED")]  # an older run
        self.history = [
            {"NAME": f"{G}$PREPARE_DATA", "STATE": "SUCCEEDED", "RUN_ID": 2000, "RETURN_VALUE": "{}"},
            {"NAME": f"{G}$SEND_ALERT", "STATE": "SKIPPED", "RUN_ID": 2000},
        ]
        self.session = ScriptedSession()
        self.session.answer(r"CURRENT_TASK_GRAPHS", lambda: self.current)
        self.session.answer(r"COMPLETE_TASK_GRAPHS", lambda: self.complete)
        self.session.answer(
            r"TASK_HISTORY\(ROOT_TASK_ID => '01b2-root'.*RUN_ID in \(.*\b2000\b", lambda: self.history
        )

    def start(self, name: str, retry_last: bool) -> None:
        self.current = [_graph_row(2000, "EXECUTING")]

    def finish(self, state: str = "SUCCEEDED") -> None:
        self.current = []
        self.complete = [*self.complete, _graph_row(2000, state)]


def _deployed(account: Account) -> SnowflakeScheduler:
    scheduler, schema = _scheduler(account.session)
    scheduler.deploy(_graph())
    schema.tasks.on_execute = account.start
    return scheduler


def test_run_executes_the_root_and_returns_the_id_of_the_new_run_not_an_older_one() -> None:
    account = Account()
    scheduler = _deployed(account)
    assert scheduler.run(G) == "2000"


def test_run_of_an_undeployed_graph_is_not_found() -> None:
    scheduler, _ = _scheduler()
    with pytest.raises(NotFound, match="python -m app deploy"):
        scheduler.run(G)


def test_run_with_a_config_override_executes_using_config_as_an_escaped_literal() -> None:
    account = Account()
    scheduler = _deployed(account)
    account.session.answer(r"^EXECUTE TASK", lambda: account.start(G, False) or [])
    scheduler.run(G, config={"model_name": "it's"})
    executed = [q for q in account.session.queries if q.startswith("EXECUTE TASK")]
    assert executed == [f"EXECUTE TASK SNOWBANK.DEV.{G} USING CONFIG = '{{\"model_name\": \"it''s\"}}'"]


def test_run_refuses_a_config_with_retry_last() -> None:
    scheduler, _ = _scheduler()
    with pytest.raises(InvalidConfig, match="retry_last"):
        scheduler.run(G, config={"a": 1}, retry_last=True)


def test_run_times_out_when_no_run_appears() -> None:
    account = Account()
    scheduler = _deployed(account)
    account.start = lambda name, retry: None  # type: ignore[method-assign]
    scheduler._schema.tasks.on_execute = account.start  # type: ignore[union-attr]
    with pytest.raises(JobTimeout, match=r"no run of SNOWBANK\.DEV\.MORTGAGE_PIPELINE appeared"):
        scheduler.run(G)


def test_wait_returns_the_finished_run_with_its_tasks() -> None:
    account = Account()
    scheduler = _deployed(account)
    run_id = scheduler.run(G)
    account.finish("SUCCEEDED")
    run = scheduler.wait(G, run_id, timeout=30)
    assert (run.run_id, run.state) == ("2000", GraphRunState.SUCCEEDED)
    assert [(t.short_name, t.state) for t in run.tasks] == [
        ("PREPARE_DATA", TaskState.SUCCEEDED),
        ("SEND_ALERT", TaskState.SKIPPED),
    ]


def test_wait_takes_the_latest_attempt_of_a_retried_run() -> None:
    account = Account()
    scheduler = _deployed(account)
    account.complete = [_graph_row(2000, "FAILED", 1), _graph_row(2000, "SUCCEEDED", 2)]
    run = scheduler.wait(G, "2000", timeout=1)
    assert (run.state, run.attempt_number) == (GraphRunState.SUCCEEDED, 2)


def test_wait_times_out_on_a_run_that_keeps_executing() -> None:
    account = Account()
    scheduler = _deployed(account)
    run_id = scheduler.run(G)
    with pytest.raises(JobTimeout, match=r"did not finish within 3 s \(last state EXECUTING"):
        scheduler.wait(G, run_id, timeout=3)


def test_wait_refuses_a_run_id_that_is_not_snowflakes() -> None:
    scheduler, _ = _scheduler()
    with pytest.raises(InvalidConfig, match="RUN_ID"):
        scheduler.wait(G, "1; drop table x", timeout=1)


def test_runs_lists_newest_first() -> None:
    account = Account()
    scheduler = _deployed(account)
    scheduler.run(G)
    account.finish("FAILED")
    assert [(r.run_id, r.state) for r in scheduler.runs(G)] == [
        ("2000", GraphRunState.FAILED),
        ("1000", GraphRunState.SUCCEEDED),
    ]


def test_run_with_retry_last_returns_the_manual_retry_attempt_it_started() -> None:
    account = Account()
    account.complete = [_graph_row(2000, "FAILED")]
    scheduler = _deployed(account)
    account.start = lambda name, retry: setattr(  # type: ignore[method-assign]
        account, "current", [_graph_row(2000, "EXECUTING", 2, "MANUAL RETRY")]
    )
    scheduler._schema.tasks.on_execute = account.start  # type: ignore[union-attr]
    assert scheduler.run(G, retry_last=True) == "2000"


def test_graph_run_views_are_filtered_by_bound_stored_names_of_a_lowercase_configured_schema() -> None:
    account = Account()
    scheduler, _ = _scheduler(account.session)
    scheduler.names = SnowflakeNames(database="snowbank", schema="dev")
    scheduler.runs(G)
    graph_queries = [
        (q, p)
        for q, p in zip(account.session.queries, account.session.bound, strict=True)
        if "TASK_GRAPHS" in q
    ]
    assert graph_queries and all(
        q.endswith("where DATABASE_NAME = ? and SCHEMA_NAME = ?") and p == ["SNOWBANK", "DEV"]
        for q, p in graph_queries
    )
