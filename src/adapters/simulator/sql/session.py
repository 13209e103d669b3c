"""Real ``snowflake.snowpark.Session`` objects on the account's SQL server, and the task session of a thread.

Snowpark keeps one process-wide set of active sessions (snowflake/snowpark/session.py ``_active_sessions``,
read by ``_get_active_session``, which ``context.get_active_session()`` and ``Session.builder.getOrCreate()``
call). Tasks run concurrently on threads, each with its own session, so a task's session is not added to that
set; ``_get_active_session`` is wrapped once to answer the session bound to the calling thread first, and
Snowpark's own answer otherwise.

A task's session logs in when the task first uses it (``_UnopenedSession``): a task that never touches its
session (an ML Job definition, a no-op) costs no login and no logout (~20 ms of CPU together).
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
        handle = TaskSession(key, lambda: server.interrupt_task(key))
        session = handle.session = _UnopenedSession(lambda: server.session_options(key), handle.logged_in)
        previous = getattr(_bound, "session", None)
        _bound.session = session
        try:
            yield handle
        finally:
            _bound.session = previous
            if _UnopenedSession.opened(session):  # a session never used never logged in
                if not server.stopped:  # else nothing is left to log out of (the account closed under it)
                    session.close()
                # Session.__init__ registers its close for interpreter exit and close() leaves it registered
                # (snowflake/snowpark/session.py ``_close_at_exit``): without this every task's session is kept
                atexit.unregister(session._close_at_exit)


class TaskSession:
    """A task's session, the key its other sessions (e.g. from job processes) log in with, and how to stop it."""

    session: Session

    def __init__(self, key: str, interrupt: Callable[[], None]) -> None:
        self.key = key
        self._interrupt = interrupt
        self._interrupted = False

    def interrupt(self) -> None:
        """Stop the task's statements, now and later: also those of a session that logs in after this."""
        self._interrupted = True
        self._interrupt()

    def logged_in(self) -> None:
        # An interrupt that came while the session logged in found no login to stop: stop it now.
        if self._interrupted:
            self._interrupt()


class _UnopenedSession(Session):
    """A ``Session`` that logs in on its first attribute access, and from then on is exactly a ``Session``.

    The first access runs ``Session.__init__`` on this very object (over ``ServerConnection(options)``, as
    ``SqlServer.open_session`` does) and makes ``Session`` its class: the objects Snowpark makes in ``__init__``
    (analyzer, file operations, registrations, …) refer to this object, so nothing is a copy.
    ``isinstance(session, Session)`` holds before and after.
    """

    def __init__(
        self, options: Callable[[], dict[str, Any]], logged_in: Callable[[], None]
    ) -> None:  # not Session's: that would log in
        object.__setattr__(self, "_simulator_options", options)
        object.__setattr__(self, "_simulator_logged_in", logged_in)
        object.__setattr__(self, "_simulator_lock", threading.Lock())
        object.__setattr__(self, "_simulator_opener", None)  # the thread running Session.__init__

    @staticmethod
    def opened(session: Session) -> bool:
        return type(session) is not _UnopenedSession

    def _simulator_open(self) -> None:
        with object.__getattribute__(self, "_simulator_lock"):
            if type(self) is not _UnopenedSession:  # another thread of the task opened it first
                return
            from snowflake.snowpark._internal.server_connection import ServerConnection

            options = object.__getattribute__(self, "_simulator_options")()
            object.__setattr__(self, "_simulator_opener", threading.get_ident())
            try:
                Session.__init__(self, ServerConnection(options), options)
            finally:
                object.__setattr__(self, "_simulator_opener", None)
            object.__setattr__(self, "__class__", Session)
            object.__getattribute__(self, "_simulator_logged_in")()

    def _initialising(self) -> bool:
        return bool(object.__getattribute__(self, "_simulator_opener") == threading.get_ident())

    def __getattribute__(self, name: str) -> Any:
        if name in _OWN_ATTRIBUTES or _UnopenedSession._initialising(self):
            return object.__getattribute__(self, name)
        _UnopenedSession._simulator_open(self)
        return getattr(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if _UnopenedSession._initialising(self):
            object.__setattr__(self, name, value)
            return
        _UnopenedSession._simulator_open(self)
        setattr(self, name, value)


# read without logging in: isinstance() reads __class__; the others are the stand-in's own
_OWN_ATTRIBUTES = frozenset(
    {
        "__class__",
        "_simulator_options",
        "_simulator_logged_in",
        "_simulator_lock",
        "_simulator_opener",
        "_simulator_open",
    }
)


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
