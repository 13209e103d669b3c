"""``domain.ports.TaskRuntime`` on ``snowflake.core.task.context.TaskContext``.

Both backends use it: in Snowflake the session is the stored procedure's, and the simulator's engine hands
tasks a session on which the real ``TaskContext`` works unchanged. ``guard`` is the backend's translation of
vendor errors (a context manager taking a description of what was being done).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from domain.errors import BackendUnavailable, InvalidData
from domain.graph import MAX_RETURN_VALUE_BYTES, validate_name

Guard = Callable[[str], AbstractContextManager[Any]]


def _no_guard(_what: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


# The timestamp texts Snowflake emits: TIMESTAMP_OUTPUT_FORMAT's default 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM'
# ('2024-05-01 10:00:00.000 -0700'), ISO forms with 'T' and '-07:00' or 'Z', up to nine fractional digits.
_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"\s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def utc_timestamp(value: object) -> datetime:
    """A timestamp as Snowflake returns it (a ``datetime`` or its text) as an aware UTC ``datetime``.

    Text with an offset names one instant whatever the session's TIMEZONE; a value without one is read as
    UTC (the simulator's TIMESTAMP_NTZ convention). Fractions beyond microseconds are truncated.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    match = _TIMESTAMP.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise BackendUnavailable(
            f"unreadable timestamp {value!r}: expected 'YYYY-MM-DD HH:MM:SS[.fraction][ ±HHMM|±HH:MM|Z]'"
        )
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    naive = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}")
    return naive.replace(tzinfo=_zone(match["zone"])).astimezone(UTC)


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-offset if text[0] == "-" else offset)


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
        """The run's original scheduled time in UTC, so every task of the run names the same version."""
        with self._guard("reading the graph run's scheduled time"):
            when = self._original_schedule()
        if when is None or when == "":
            raise BackendUnavailable(
                f"the graph run has no original scheduled time ({when!r}); is this a task run?"
            )
        return utc_timestamp(when)

    def _original_schedule(self) -> object:
        # TaskContext selects to_timestamp(SYSTEM$TASK_RUNTIME_INFO(...)) (snowflake/core/task/context.py,
        # get_runtime_info): a datetime, or the text itself from a session that returns strings.
        return self._ctx.get_current_task_graph_original_schedule()

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
