"""Task-graph history is kept for a retention (7 days by default) and expired as runs end: the home stays bounded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.store import GraphStore, TaskHistoryRecord
from app.container import build_container
from app.settings import GraphOptions, load_settings
from domain.errors import InvalidConfig
from domain.graph import GraphRunState, ScheduledFrom, TaskState
from tests.support.graph_runs import executing_run


def _past_run(store: GraphStore, name: str, *, ended_days_ago: float, state: str = "SUCCEEDED") -> None:
    """A run of graph ``name`` (and its one task row) that ended that many days ago, or is still executing."""
    ended = datetime.now(UTC) - timedelta(days=ended_days_ago)
    run = executing_run(name, scheduled=ended - timedelta(minutes=1))
    store.start_run(
        run if state == "EXECUTING" else replace(run, state=GraphRunState(state), completed_time=ended)
    )
    store.append_history(
        [
            TaskHistoryRecord(
                name=f"{name}$T",
                root_task_name=name,
                run_id=1,
                graph_run_group_id=f"group-{name}",
                attempt_number=1,
                state=TaskState.SUCCEEDED,
                return_value=None,
                error_code=None,
                error_message=None,
                condition_text=None,
                scheduled_time=ended - timedelta(minutes=1),
                query_start_time=ended - timedelta(minutes=1),
                completed_time=ended,
                scheduled_from=ScheduledFrom.EXECUTE_TASK,
                graph_version=1,
                log_text="x" * 1000,
            )
        ]
    )


def test_a_finished_run_expires_history_older_than_the_retention_and_keeps_the_rest(tmp_path: Path) -> None:
    with LocalDAGOperation(tmp_path / "home", history_retention=timedelta(days=7)) as op:
        _past_run(op.store, "OLD", ended_days_ago=8)
        _past_run(op.store, "RECENT", ended_days_ago=6)
        _past_run(op.store, "LONG_RUNNING", ended_days_ago=8, state="EXECUTING")
        with DAG("now") as dag:
            DAGTask("t", lambda s: None)
        op.deploy(dag)
        assert op.run(dag).state == "SUCCEEDED"

        kept = {
            name: (len(op.graph_runs(name)), len(op.task_history(name)))
            for name in ("OLD", "RECENT", "LONG_RUNNING", "NOW")
        }

    assert kept == {"OLD": (0, 0), "RECENT": (1, 1), "LONG_RUNNING": (1, 1), "NOW": (1, 2)}


def test_history_retention_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="retention 0:00:00: must be positive"):
        LocalDAGOperation(tmp_path / "home", history_retention=timedelta(0))


def test_graph_history_days_is_bounded_by_account_usages_year() -> None:
    with pytest.raises(InvalidConfig, match=r"graph.history_days=366: must be a whole number in 1..365"):
        GraphOptions(history_days=366)


def test_the_containers_operation_keeps_history_for_graph_history_days(tmp_path: Path) -> None:
    settings = load_settings(env={}, backend="simulator", home=tmp_path / "home")
    container = build_container(replace(settings, graph=GraphOptions(history_days=3)))
    try:
        assert container.dag_operation().store.retention == timedelta(days=3)
    finally:
        container.shutdown_resources()


def test_the_containers_notifier_keeps_sent_messages_for_graph_history_days(tmp_path: Path) -> None:
    settings = load_settings(env={}, backend="simulator", home=tmp_path / "home")
    container = build_container(replace(settings, graph=GraphOptions(history_days=3)))
    try:
        assert container.notifier().retention == timedelta(days=3)
    finally:
        container.shutdown_resources()


def test_a_finished_run_leaves_no_write_ahead_log_behind(tmp_path: Path) -> None:
    # DuckDB checkpoints by itself only past 16 MiB of log: without this, every run's writes stay in the log
    with LocalDAGOperation(tmp_path / "home") as op:
        with DAG("logged") as dag:
            DAGTask("t", lambda s: None)
        op.deploy(dag)
        assert op.run(dag).state == "SUCCEEDED"

        log = tmp_path / "home" / "account.duckdb.wal"
        assert not log.exists() or log.stat().st_size == 0
