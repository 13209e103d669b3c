"""What the statement rules share: the statement as the server received it, the session's state that fakesnow
does not keep, and the Snowflake errors a rule answers with. Rule modules (hooks, procedures, loading, identifiers)
import this, never each other's tables, so that none of them imports the server back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from snowflake.connector.errors import ProgrammingError
from sqlglot import exp
from sqlglot.errors import SqlglotError

from domain.errors import Unsupported

if TYPE_CHECKING:
    from adapters.simulator.account.home import LocalAccount
    from adapters.simulator.sql.system import SystemFunctions
    from adapters.simulator.sql.taskgraph_sql import SessionSql

UNSUPPORTED_CODE = 2  # Snowflake's "Unsupported feature" error (000002, SQL state 0A000)
PROCEDURE_ERROR_CODE = 100132  # an error raised while running the statement's procedure


class SqlError(ProgrammingError):
    """A Snowflake error the server answers with; the client raises it as ``ProgrammingError``."""

    def __init__(self, message: str, code: int, sqlstate: str) -> None:
        super().__init__(msg=message, errno=code, sqlstate=sqlstate)


def unsupported(message: str) -> SqlError:
    return SqlError(f"{Unsupported.__name__}: {message}", UNSUPPORTED_CODE, "0A000")


@dataclass
class SessionState:
    """What a client session sets that fakesnow does not keep: fakesnow/transforms/transforms.py
    ``alter_session`` accepts only QUOTED_IDENTIFIERS_IGNORE_CASE and AUTOCOMMIT."""

    query_tag: str = ""
    warehouse: str | None = None  # USE WAREHOUSE: fakesnow accepts it and keeps nothing
    # set by the server: the session itself, for the rules that run statements on it (taskgraph_sql.py)
    sql: SessionSql | None = None
    # the account, the task key of its login and its current database and schema: what procedures need
    account: LocalAccount | None = None
    task_key: str | None = None
    location: Callable[[], tuple[str | None, str | None]] = lambda: (None, None)
    # a new Snowpark session of this login's account, logged in with its task key (the server sets it)
    open_session: Callable[[], Any] | None = None
    procedures: dict[Any, Any] = field(default_factory=dict)  # its TEMPORARY procedures (procedures.py)
    functions: dict[Any, Any] = field(default_factory=dict)  # its TEMPORARY Python UDFs (udfs.py)
    # qualified temporary tables made as plain tables, dropped when the session ends (loading.py)
    temporary_tables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Statement:
    """One statement as the client sent it, parsed lazily (fakesnow's dialect) by the rules that need it."""

    text: str
    functions: SystemFunctions | None  # None: the session is not bound to a running task
    session: SessionState = field(default_factory=SessionState)
    params: Sequence[object] | None = None  # the client's bindings (qmark), when it sent any
    database: str | None = None  # the session's current database and schema
    schema: str | None = None

    def parsed(self) -> exp.Expr | None:
        from fakesnow.dialect import parse_one

        try:
            return parse_one(self.text)
        except SqlglotError:  # fakesnow reports it as Snowflake's syntax error
            return None


Rule = Callable[[Statement], str | None]


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:120] + "…"


# What Snowflake answers a statement that returns no rows of its own (ALTER SESSION, EXECUTE TASK, …)
STATEMENT_EXECUTED = exp.select(
    exp.Literal.string("Statement executed successfully.").as_("status", quoted=True)
).sql(dialect="snowflake")
