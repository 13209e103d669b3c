"""``domain.ports.TaskRuntime`` on ``snowflake.core.task.context.TaskContext``.

Both backends use it: in Snowflake the session is the stored procedure's, and the simulator's engine hands
tasks a session on which the real ``TaskContext`` works unchanged. ``guard`` is the backend's translation of
vendor errors (a context manager taking a description of what was being done).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from domain.errors import BackendUnavailable, InvalidData
from domain.graph import MAX_RETURN_VALUE_BYTES, validate_name

Guard = Callable[[str], AbstractContextManager[Any]]


def _no_guard(_what: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


class TaskContextRuntime:
    def __init__(self, session: Any, context: Any = None, *, guard: Guard = _no_guard) -> None:
        if context is None:
            from snowflake.core.task.context import TaskContext

            context = TaskContext(session)
        self._ctx = context
        self._session = session
        self._guard = guard

    def graph_config(self) -> dict[str, Any]:
        with self._guard("reading the task graph config"):
            return dict(self._ctx.get_task_graph_config() or {})

    def predecessor_value(self, task_name: str) -> str | None:
        with self._guard(f"reading the return value of predecessor {task_name!r}"):
            value = self._ctx.get_predecessor_return_value(task_name)
        # TaskContext wraps the result in str(), so a task that set no value reads as "None".
        return None if value in (None, "None") else str(value)

    def set_return_value(self, value: str) -> None:
        text = str(value)
        size = len(text.encode())
        if size > MAX_RETURN_VALUE_BYTES:
            raise InvalidData(
                f"return value of {size} bytes exceeds Snowflake's {MAX_RETURN_VALUE_BYTES} bytes; "
                "return references, not data"
            )
        with self._guard("setting the task return value"):
            self._ctx.set_return_value(text)

    def scheduled_time(self) -> datetime:
        with self._guard("reading the graph run's scheduled time"):
            when = self._ctx.get_current_task_graph_original_schedule()
        if isinstance(when, str) and when:
            when = datetime.fromisoformat(when)
        if not isinstance(when, datetime):
            raise BackendUnavailable(
                f"the graph run has no original scheduled time ({when!r}); is this a task run?"
            )
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)

    def task_state(self, task_name: str) -> str:
        name = validate_name(task_name)  # an identifier: safe to place in the statement
        with self._guard(f"reading the state of task {task_name!r}"):
            root = self._ctx.get_current_root_task_name()
            rows = self._session.sql(
                f"select SYSTEM$TASK_COMPLETION_STATE('{root}${name.upper()}')"
            ).collect()
        return str(rows[0][0])

    def current_task_name(self) -> str:
        with self._guard("reading the current task name"):
            return self._ctx.get_current_task_short_name()
