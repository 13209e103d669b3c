"""TaskRuntime on ``snowflake.core.task.context.TaskContext``: what a task running in Snowflake knows of its run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.snowflake.errors import vendor_errors
from domain.errors import BackendUnavailable, InvalidData
from domain.graph import MAX_RETURN_VALUE_BYTES


class SnowflakeTaskRuntime:
    """The TaskRuntime port inside a deployed task (every call fails outside a task run, as in Snowflake)."""

    def __init__(self, session: Any, context: Any = None) -> None:
        if context is None:
            from snowflake.core.task.context import TaskContext

            context = TaskContext(session)
        self._ctx = context

    def graph_config(self) -> dict[str, Any]:
        with vendor_errors("reading the task graph config"):
            return dict(self._ctx.get_task_graph_config() or {})

    def predecessor_value(self, task_name: str) -> str | None:
        with vendor_errors(f"reading the return value of predecessor {task_name!r}"):
            value = self._ctx.get_predecessor_return_value(task_name)
        # TaskContext wraps the result in str(), so a task that set no value reads as "None".
        return None if value in (None, "None") else str(value)

    def set_return_value(self, value: str) -> None:
        size = len(str(value).encode())
        if size > MAX_RETURN_VALUE_BYTES:
            raise InvalidData(
                f"return value of {size} bytes exceeds Snowflake's {MAX_RETURN_VALUE_BYTES} bytes; "
                "return references, not data"
            )
        with vendor_errors("setting the task return value"):
            self._ctx.set_return_value(str(value))

    def scheduled_time(self) -> datetime:
        with vendor_errors("reading the graph run's scheduled time"):
            value = self._ctx.get_current_task_graph_original_schedule()
        if isinstance(value, datetime):
            return value
        if isinstance(value, str) and value:
            return datetime.fromisoformat(value)
        raise BackendUnavailable(
            f"the graph run has no original scheduled time ({value!r}); is this a task run?"
        )

    def current_task_name(self) -> str:
        with vendor_errors("reading the current task name"):
            return self._ctx.get_current_task_short_name()
