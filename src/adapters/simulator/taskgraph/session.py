"""The session a task receives: a real ``snowflake.snowpark.Session`` on the account's SQL server.

``adapters.simulator.sql.session.task_session`` makes it, bound to the running task, so Snowpark's own DataFrame
API runs unchanged and ``snowflake.core.task.context.TaskContext(session)`` reaches the engine's ``SYSTEM$``
functions. A ``session_factory`` passed to ``LocalDAGOperation`` may wrap it or attach more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from domain.errors import NotFound

if TYPE_CHECKING:  # Snowpark takes seconds to import: read-only commands never load it
    from snowflake.snowpark import Session

_active = threading.local()

SessionFactory = Callable[["Session"], Any]


def active_session() -> Any:
    """The session of the task running on this thread (ML Job functions that take no arguments use it)."""
    session = getattr(_active, "session", None)
    if session is None:
        raise NotFound("no task is running on this thread, so there is no active task session")
    return session


def active_run_id() -> str:
    """The graph run id (RUN_ID) of the task running on this thread, which no SYSTEM$ function offers."""
    run_id = getattr(_active, "run_id", None)
    if run_id is None:
        raise NotFound("no task is running on this thread, so there is no graph run id")
    return str(run_id)


def bind_active(session: Any, run_id: object = None) -> None:
    _active.session = session
    _active.run_id = run_id
