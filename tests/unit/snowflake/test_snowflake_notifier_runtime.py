"""The notifier binds its message and checks the integration; the task runtime reads TaskContext."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.snowflake.notifier import SnowflakeNotifier
from adapters.snowflake.task_runtime import SnowflakeTaskRuntime
from domain.errors import InvalidConfig, InvalidData, NotFound, NotificationFailed
from domain.refs import Notification
from tests.unit.snowflake.sf_fakes import ScriptedSession

INTEGRATION = "DEMO_NOTIFICATION_INTEGRATION"


def _session(enabled: str = "true") -> ScriptedSession:
    session = ScriptedSession()
    session.answer(r"^SHOW NOTIFICATION INTEGRATIONS", [{"name": INTEGRATION, "enabled": enabled}])
    return session


def test_the_message_is_bound_as_a_parameter_not_interpolated() -> None:
    session = _session()
    SnowflakeNotifier(session).send(INTEGRATION, Notification("Gate failed", "x'); drop table t; --"))
    call = session.queries[-1]
    assert call.startswith(
        "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.TEXT_PLAIN("
        "SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT(?)), SNOWFLAKE.NOTIFICATION.INTEGRATION(?))"
    )
    assert "drop table" not in call
    assert session.bound[-1] == ["Gate failed\n\nx'); drop table t; --", INTEGRATION]


def test_html_messages_use_text_html() -> None:
    session = _session()
    SnowflakeNotifier(session).send(INTEGRATION, Notification("s", "<b>b</b>", content_type="text/html"))
    assert "SNOWFLAKE.NOTIFICATION.TEXT_HTML(" in session.queries[-1]


def test_an_unknown_integration_is_not_found_with_the_create_and_grant() -> None:
    session = ScriptedSession()
    with pytest.raises(
        NotFound, match=r"CREATE NOTIFICATION INTEGRATION NOPE .*GRANT USAGE ON INTEGRATION NOPE"
    ):
        SnowflakeNotifier(session).send("nope", Notification("s", "b"))


def test_a_disabled_integration_is_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match="SET ENABLED = TRUE"):
        SnowflakeNotifier(_session("false")).send(INTEGRATION, Notification("s", "b"))


def test_a_failed_delivery_is_notification_failed() -> None:
    session = _session()

    def refuse() -> list[Any]:
        raise SnowparkSQLException("Webhook returned 500", sql_error_code=100)

    session.answer(r"^CALL SYSTEM\$SEND", refuse)
    with pytest.raises(NotificationFailed, match="Webhook returned 500"):
        SnowflakeNotifier(session).send(INTEGRATION, Notification("s", "b"))


def test_a_bad_content_type_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="text/plain"):
        SnowflakeNotifier(_session()).send(
            INTEGRATION, Notification("s", "b", content_type="application/json")
        )


class TaskSession:
    """What TaskContext calls inside a running task."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.values = {
            "system$current_user_task_name": "DB.SCH.G$PROMOTE_MODEL",
            "SYSTEM$GET_TASK_GRAPH_CONFIG": '{"model_name": "m", "metric_threshold": 0.7}',
            "system$get_predecessor_return_value": "None",
        }
        self.sql_answers = {
            "CURRENT_ROOT_TASK_NAME": "DB.SCH.G",
            "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": datetime(2026, 2, 10, 9, 28, 49),
        }

    def call(self, name: str, *args: Any) -> Any:
        self.calls.append((name, *args))
        return self.values.get(name)

    def sql(self, text: str) -> ScriptedSession:
        key = text.split("'")[1]
        session = ScriptedSession()
        session.answer(".", [[self.sql_answers[key]]])
        return session.sql(text)  # type: ignore[return-value]


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


def test_scheduled_time_and_short_task_name() -> None:
    runtime = SnowflakeTaskRuntime(TaskSession())
    assert runtime.scheduled_time() == datetime(2026, 2, 10, 9, 28, 49, tzinfo=UTC)  # naive is read as UTC
    assert runtime.current_task_name() == "PROMOTE_MODEL"
