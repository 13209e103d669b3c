"""The task runtime inside a deployed task, through the real ``snowflake.core.task.context.TaskContext``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.dagv1.task_runtime import TaskContextRuntime, utc_timestamp
from adapters.snowflake.task_runtime import ORIGINAL_SCHEDULE_UTC_SQL, SnowflakeTaskRuntime
from domain.errors import BackendUnavailable, InvalidData, InvalidName
from domain.names import model_version_for
from tests.unit.snowflake.sf_fakes import FakeResult

ROOT_UUID = "01b2c3d4-0000-4000-8000-000000000001"
GROUP = "01b2c3d4-0000-4000-8000-00000000abcd"


def history_row(
    name: str, state: str, attempt: int = 1, group: str = GROUP, run_id: int = 1770715729000
) -> dict[str, Any]:
    """An INFORMATION_SCHEMA.TASK_HISTORY row: NAME, STATE, RUN_ID, ATTEMPT_NUMBER, QUERY_START_TIME,
    ROOT_TASK_ID, GRAPH_RUN_GROUP_ID (https://docs.snowflake.com/sql-reference/functions/task_history; GRAPH_RUN_GROUP_ID
    with ATTEMPT_NUMBER identifies a graph run: release note bcr-1279)."""
    return {
        "NAME": name,
        "STATE": state,
        "RUN_ID": run_id,
        "ATTEMPT_NUMBER": attempt,
        "QUERY_START_TIME": None if state == "SCHEDULED" else datetime(2026, 2, 10, 9, attempt, tzinfo=UTC),
        "ROOT_TASK_ID": ROOT_UUID,
        "GRAPH_RUN_GROUP_ID": group,
    }


class TaskSession:
    """What a deployed task's session answers: the calls and selects TaskContext makes
    (snowflake/core/task/context.py: ``session.call`` for the SYSTEM$ procedures,
    ``select to_char(system$task_runtime_info('…'))`` for runtime info), and TASK_HISTORY filtered by the
    literals of the statement's WHERE clause."""

    def __init__(self, history: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.queries: list[str] = []
        self.history = history or []
        self.values = {
            "system$current_user_task_name": "DB.SCH.G$CLEANUP",
            "SYSTEM$GET_TASK_GRAPH_CONFIG": '{"model_name": "m", "metric_threshold": 0.7}',
            "system$get_predecessor_return_value": "None",
        }
        self.runtime_info: dict[str, Any] = {
            "CURRENT_ROOT_TASK_NAME": "DB.SCH.G",
            "CURRENT_ROOT_TASK_UUID": ROOT_UUID,
            "CURRENT_TASK_GRAPH_RUN_GROUP_ID": GROUP,
            "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": datetime(2026, 2, 10, 9, 28, 49),
        }
        self.utc_schedule = "2026-02-10 17:28:49.000000000 +00:00"

    def call(self, name: str, *args: Any) -> Any:
        self.calls.append((name, *args))
        return self.values.get(name)

    def get_current_database(self) -> str:
        return "DB"

    def sql(self, text: str) -> FakeResult:
        self.queries.append(text)
        if text == ORIGINAL_SCHEDULE_UTC_SQL:
            return FakeResult([[self.utc_schedule]])  # type: ignore[list-item]
        info = re.fullmatch(r"select to_(?:char|timestamp)\(system\$task_runtime_info\('(\w+)'\)\)", text)
        if info:
            return FakeResult([[self.runtime_info[info.group(1)]]])  # type: ignore[list-item]
        history = re.fullmatch(
            r"select NAME, STATE, RUN_ID, ATTEMPT_NUMBER, QUERY_START_TIME from table\(DB\.INFORMATION_SCHEMA"
            r"\.TASK_HISTORY\(ROOT_TASK_ID => '([^']*)', RESULT_LIMIT => 10000\)\) "
            r"where to_char\(GRAPH_RUN_GROUP_ID\) = '([^']*)' and NAME = '([^']*)'",
            text,
        )
        if history is None:
            raise AssertionError(f"unexpected statement: {text}")
        root, group, name = history.groups()
        return FakeResult(
            [
                r
                for r in self.history
                if r["ROOT_TASK_ID"] == root and r["GRAPH_RUN_GROUP_ID"] == group and r["NAME"] == name
            ]
        )


def test_a_task_that_failed_in_this_run_reads_failed() -> None:
    session = TaskSession(
        [history_row("G$TRAIN_MODEL", "FAILED"), history_row("G$PREPARE_DATA", "SUCCEEDED")]
    )
    runtime = SnowflakeTaskRuntime(session)
    assert runtime.task_state("train_model") == "FAILED"
    assert runtime.task_state("prepare_data") == "SUCCEEDED"
    assert not any("TASK_COMPLETION_STATE" in q for q in session.queries)


def test_the_graph_run_id_is_the_run_id_of_the_running_tasks_row_in_its_run_group() -> None:
    session = TaskSession(
        [
            history_row("G$CLEANUP", "EXECUTING", run_id=1770715729000),
            history_row("G$CLEANUP", "SUCCEEDED", group="another-group", run_id=1770000000000),
        ]
    )

    assert SnowflakeTaskRuntime(session).graph_run_id() == "1770715729000"


def test_a_graph_run_id_outside_a_task_run_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="G\\$CLEANUP"):
        SnowflakeTaskRuntime(TaskSession()).graph_run_id()


def test_the_latest_attempt_of_the_run_group_decides() -> None:
    session = TaskSession(
        [history_row("G$TRAIN_MODEL", "FAILED", 1), history_row("G$TRAIN_MODEL", "SUCCEEDED", 2)]
    )
    assert SnowflakeTaskRuntime(session).task_state("train_model") == "SUCCEEDED"


def test_runs_of_other_run_groups_are_not_this_run() -> None:
    session = TaskSession([history_row("G$TRAIN_MODEL", "FAILED", group="another-run-group")])
    assert SnowflakeTaskRuntime(session).task_state("train_model") == "NOT_EXECUTED"


@pytest.mark.parametrize(
    ("history_state", "state"),
    [("FAILED_AND_AUTO_SUSPENDED", "FAILED"), ("SCHEDULED", "NOT_EXECUTED"), ("CANCELLED", "CANCELLED")],
)
def test_task_history_states_read_as_task_completion_states(history_state: str, state: str) -> None:
    session = TaskSession([history_row("G$SEND_ALERT", history_state)])
    assert SnowflakeTaskRuntime(session).task_state("send_alert") == state


def test_a_task_name_that_is_not_an_identifier_is_refused_before_any_sql() -> None:
    session = TaskSession()
    with pytest.raises(InvalidName, match="invalid task name"):
        SnowflakeTaskRuntime(session).task_state("x' or '1'='1")
    assert session.queries == []


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01 10:00:00.000 -0700",  # TIMESTAMP_OUTPUT_FORMAT's default, in America/Los_Angeles
        "2024-05-01 19:00:00.000 +0200",  # the same instant in Europe/Berlin
        "2024-05-01T10:00:00-07:00",
        "2024-05-01 17:00:00.000000000 +00:00",  # ORIGINAL_SCHEDULE_UTC_SQL's format
        "2024-05-01T17:00:00.123Z",
        "2024-05-01 17:00:00",  # no offset: UTC
    ],
)
def test_every_text_of_one_instant_names_one_version(text: str) -> None:
    assert model_version_for(utc_timestamp(text)) == "v20240501_170000"


def test_an_unreadable_timestamp_names_the_value_and_the_accepted_form() -> None:
    with pytest.raises(BackendUnavailable, match=r"'May 1st'.*YYYY-MM-DD HH:MM:SS"):
        utc_timestamp("May 1st")


def test_the_deployed_runtime_reads_the_schedule_converted_to_utc_in_sql() -> None:
    session = TaskSession()
    assert SnowflakeTaskRuntime(session).scheduled_time() == datetime(2026, 2, 10, 17, 28, 49, tzinfo=UTC)
    assert session.queries == [ORIGINAL_SCHEDULE_UTC_SQL]


def test_the_shared_runtime_follows_the_library_datetime_as_utc() -> None:
    # The simulator's path: TaskContext's to_timestamp(...) of the engine's naive UTC text.
    assert TaskContextRuntime(TaskSession()).scheduled_time() == datetime(2026, 2, 10, 9, 28, 49, tzinfo=UTC)


def test_graph_config_is_the_parsed_json() -> None:
    assert SnowflakeTaskRuntime(TaskSession()).graph_config() == {"model_name": "m", "metric_threshold": 0.7}


def test_a_predecessor_without_a_value_reads_as_none_and_its_name_is_prefixed() -> None:
    session = TaskSession()
    assert SnowflakeTaskRuntime(session).predecessor_value("train_model") is None
    assert ("system$get_predecessor_return_value", "G$TRAIN_MODEL") in session.calls


def test_set_return_value_refuses_more_than_10_kb() -> None:
    session = TaskSession()
    with pytest.raises(InvalidData, match="10240 bytes"):
        SnowflakeTaskRuntime(session).set_return_value("x" * 10241)
    SnowflakeTaskRuntime(session).set_return_value("ok")
    assert ("system$set_return_value", "ok") in session.calls


def test_the_short_task_name_drops_the_graph_prefix() -> None:
    assert SnowflakeTaskRuntime(TaskSession()).current_task_name() == "CLEANUP"
