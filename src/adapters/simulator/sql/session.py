"""Real ``snowflake.snowpark.Session`` objects on the account's SQL server, and the task session of a thread.

Snowpark keeps one process-wide set of active sessions (snowflake/snowpark/session.py ``_active_sessions``,
read by ``_get_active_session``, which ``context.get_active_session()`` and ``Session.builder.getOrCreate()``
call). Tasks run concurrently on threads, each with its own session, so a task's session is not added to that
set; ``_get_active_session`` is wrapped once to answer the session bound to the calling thread first, and
Snowpark's own answer otherwise.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import snowflake.snowpark.session as snowpark_session
from snowflake.snowpark import Session

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.sql.server import server_for
from adapters.simulator.sql.system import SystemFunctions

_bound = threading.local()
_patch_lock = threading.Lock()


def session_options(account: LocalAccount, key: str | None = None) -> dict[str, Any]:
    """What a Snowpark session on ``account`` is made from, also in another process; ``key`` (from
    ``bind_task``) makes it a task's."""
    return server_for(account).session_options(key)


def open_session(account: LocalAccount, key: str | None = None) -> Session:
    """A Snowpark session on ``account``, in SIMULATOR.PUBLIC; ``key`` (from ``bind_task``) makes it a task's."""
    session: Session = server_for(account).open_session(key)
    return session


@contextmanager
def task_session(account: LocalAccount, functions: SystemFunctions) -> Iterator[TaskSession]:
    """The running task's session, active on this thread (``get_active_session()``) until the block ends."""
    _install_active_session_lookup()
    server = server_for(account)
    with server.bind_task(functions) as key:
        session = open_session(account, key)
        handle = TaskSession(session, key, lambda: server.interrupt_task(key))
        previous = getattr(_bound, "session", None)
        _bound.session = session
        try:
            yield handle
        finally:
            _bound.session = previous
            if (
                not server.stopped
            ):  # else nothing is left to log out of (the account closed under a stuck task)
                session.close()
            # Session.__init__ registers its close for interpreter exit and close() leaves it registered
            # (snowflake/snowpark/session.py ``_close_at_exit``): without this every task's session is kept alive
            atexit.unregister(session._close_at_exit)


class TaskSession:
    """A task's session, the key its other sessions (e.g. from job processes) log in with, and how to stop it."""

    def __init__(self, session: Session, key: str, interrupt: Callable[[], None]) -> None:
        self.session = session
        self.key = key
        self.interrupt = interrupt


def bound_session() -> Session | None:
    """The task session bound to the calling thread, if any."""
    return getattr(_bound, "session", None)


def _install_active_session_lookup() -> None:
    with _patch_lock:
        original: Any = snowpark_session._get_active_session
        if getattr(original, "_simulator", False):
            return

        def active_session() -> Session:
            bound = bound_session()
            return bound if bound is not None else original()

        active_session._simulator = True  # type: ignore[attr-defined]
        snowpark_session._get_active_session = active_session
