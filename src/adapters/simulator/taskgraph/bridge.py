"""A task's session, reachable from the ML Job processes it starts.

An ML Job runs in its own worker processes, but its code still talks to the task that started it — the guide's
training job sets the task's return value through ``TaskContext``. A live session cannot be pickled, so the job
gets a ``RemoteSession`` instead: a small picklable client that forwards ``call`` and ``sql(...).collect()`` over
an authenticated loopback connection to the task's own session, for as long as the job runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from typing import TYPE_CHECKING, Any

from domain.errors import BackendUnavailable, DomainError

if TYPE_CHECKING:
    from snowflake.snowpark import Row  # imported where rows are made: Snowpark takes seconds to import


class RemoteSession:
    """The job-side stand-in for the task's session (``call`` and ``sql().collect()``, as TaskContext uses)."""

    def __init__(self, address: tuple[str, int], authkey: bytes) -> None:
        self._address, self._authkey = address, authkey

    def _request(self, *message: Any) -> Any:
        try:
            with Client(self._address, authkey=self._authkey) as conn:
                conn.send(message)
                status, payload = conn.recv()
        except (OSError, EOFError) as exc:
            raise BackendUnavailable(f"the task that started this job is no longer reachable: {exc}") from exc
        if status == "error":
            kind, text = payload
            raise BackendUnavailable(f"{kind}: {text}")
        return payload

    def call(self, name: str, *args: Any) -> Any:
        return self._request("call", name, args)

    def sql(self, query: str) -> _RemoteResult:
        return _RemoteResult(self, query)


class _RemoteResult:
    def __init__(self, session: RemoteSession, query: str) -> None:
        self._session, self._query = session, query

    def collect(self) -> list[Row]:
        from snowflake.snowpark import Row

        fields, rows = self._session._request("sql", self._query)
        return [Row(**dict(zip(fields, values, strict=True))) for values in rows]


def _serve(session: Any, conn: Connection) -> None:
    with conn:
        kind, *rest = conn.recv()
        try:
            if kind == "call":
                name, args = rest
                conn.send(("ok", session.call(name, *args)))
            else:
                rows = session.sql(rest[0]).collect()
                fields = list(rows[0].as_dict()) if rows else []
                conn.send(("ok", (fields, [tuple(r) for r in rows])))
        except (DomainError, ValueError, TypeError) as exc:
            conn.send(("error", (type(exc).__name__, str(exc))))


@contextlib.contextmanager
def session_bridge(session: Any) -> Iterator[RemoteSession]:
    """Serve ``session`` to job processes until the block ends; yields the picklable client to hand them."""
    authkey = os.urandom(32)
    listener = Listener(("127.0.0.1", 0), authkey=authkey)
    stopped = threading.Event()

    def accept() -> None:
        while not stopped.is_set():
            try:
                conn = listener.accept()
            except (OSError, EOFError, AuthenticationError):  # closed, or a client without the key
                continue
            if stopped.is_set():
                conn.close()
                return
            threading.Thread(target=_serve, args=(session, conn), daemon=True).start()

    thread = threading.Thread(target=accept, name="task-session-bridge", daemon=True)
    thread.start()
    address = listener.address
    try:
        yield RemoteSession(address, authkey)
    finally:
        stopped.set()
        with contextlib.suppress(OSError):  # wake accept() so the thread sees the stop
            Client(address, authkey=authkey).close()
        thread.join(timeout=5)
        listener.close()
