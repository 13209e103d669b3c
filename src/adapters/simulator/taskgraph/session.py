"""The Snowpark-like session a task receives: enough of ``snowflake.snowpark.Session`` for task code.

``snowflake.core.task.context.TaskContext(session)`` works on it unchanged: it only uses ``session.call`` for
``SYSTEM$`` functions and ``session.sql(...).collect()`` for ``SYSTEM$TASK_RUNTIME_INFO``. General SQL runs on
the simulator's DuckDB, translated from Snowflake's dialect. ``session.account`` is the ``LocalAccount``, so
task code (the pipeline's stages) can build the simulator's adapters from the session it is given; a
``session_factory`` passed to ``LocalDAGOperation`` may attach more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.taskgraph.sql import SystemFunctions, TaskRuntime, run_sql
from domain.errors import NotFound, Unsupported
from domain.ports import Notifier

if TYPE_CHECKING:
    from snowflake.snowpark import Row  # imported where rows are made: Snowpark takes seconds to import

_active = threading.local()


class SqlResult:
    """What ``session.sql(text)`` returns; the statement runs when collected, as in Snowpark."""

    def __init__(self, text: str, session: SimSession) -> None:
        self._text = text
        self._session = session

    def collect(self) -> list[Row]:
        return run_sql(self._text, self._session.functions, self._session.account)

    def to_pandas(self) -> Any:
        import pandas as pd

        rows = self.collect()
        return pd.DataFrame([r.as_dict() for r in rows])


class SimSession:
    def __init__(self, account: LocalAccount, runtime: TaskRuntime, notifier: Notifier | None) -> None:
        self.account = account
        self.runtime = runtime
        self.functions = SystemFunctions(runtime, notifier)

    def call(self, name: str, *args: Any) -> Any:
        """``Session.call``: the simulator serves the ``SYSTEM$`` procedures and functions tasks use."""
        return self.functions.call(name, *args)

    def sql(self, query: str, params: Any = None) -> SqlResult:
        if params:
            raise Unsupported(
                "session.sql(..., params=...) is not supported by the simulator; inline literals"
            )
        return SqlResult(query, self)

    def get_current_database(self) -> str:
        return "SIMULATOR"

    def get_current_schema(self) -> str:
        return "PUBLIC"


SessionFactory = Callable[[SimSession], Any]


def active_session() -> Any:
    """The session of the task running on this thread (ML Job functions that take no arguments use it)."""
    session = getattr(_active, "session", None)
    if session is None:
        raise NotFound("no task is running on this thread, so there is no active task session")
    return session


def bind_active(session: Any) -> None:
    _active.session = session
