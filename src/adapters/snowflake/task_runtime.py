"""TaskRuntime inside a deployed task: the shared TaskContext runtime, with Snowflake's errors translated."""

from __future__ import annotations

from typing import Any

from adapters.snowflake.errors import vendor_errors
from adapters.task_context import TaskContextRuntime


class SnowflakeTaskRuntime(TaskContextRuntime):
    """The TaskRuntime port inside a deployed task (every call fails outside a task run, as in Snowflake)."""

    def __init__(self, session: Any, context: Any = None) -> None:
        super().__init__(session, context, guard=vendor_errors)
