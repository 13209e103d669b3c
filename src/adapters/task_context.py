"""``domain.ports.TaskRuntime`` on ``snowflake.core.task.context.TaskContext``.

Both backends use it: in Snowflake the session is the stored procedure's, and the simulator's engine hands
tasks a session on which the real ``TaskContext`` works unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from snowflake.core.task.context import TaskContext

from domain.errors import InvalidData
from domain.graph import MAX_RETURN_VALUE_BYTES


class TaskContextRuntime:
    def __init__(self, session: Any) -> None:
        self._ctx = TaskContext(session)

    def graph_config(self) -> dict[str, Any]:
        return dict(self._ctx.get_task_graph_config() or {})

    def predecessor_value(self, task_name: str) -> str | None:
        value = self._ctx.get_predecessor_return_value(task_name)
        # TaskContext turns a NULL return value into the string "None".
        return None if value in (None, "None") else value

    def set_return_value(self, value: str) -> None:
        text = str(value)
        if len(text.encode()) > MAX_RETURN_VALUE_BYTES:
            raise InvalidData(
                f"return value of {len(text.encode())} bytes exceeds Snowflake's {MAX_RETURN_VALUE_BYTES} bytes"
            )
        self._ctx.set_return_value(text)

    def scheduled_time(self) -> datetime:
        when = self._ctx.get_current_task_graph_original_schedule()
        if not isinstance(when, datetime):
            raise InvalidData(f"the graph run has no original scheduled time (got {when!r})")
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    def current_task_name(self) -> str:
        return self._ctx.get_current_task_short_name()
