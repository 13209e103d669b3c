"""Snowflake's Task Graph SQL, served by the running task's engine: statement rules for ``hooks.RULES``.

- ``TABLE([DB.]INFORMATION_SCHEMA.TASK_HISTORY(...))``, ``COMPLETE_TASK_GRAPHS(...)``, ``CURRENT_TASK_GRAPHS(...)``
  (docs: sql-reference/functions/task_history, complete_task_graphs, current_task_graphs): the engine's rows are
  materialized into a temporary table of the session (its own DuckDB cursor) and the table function becomes that
  table, so WHERE, ORDER BY, joins and Snowpark DataFrames work around it as around any table. Arguments are
  evaluated first (literals, or any expression such as ``DATEADD('hour', -1, CURRENT_TIMESTAMP())``, by the
  session itself), then checked by the engine (``history_sql``) as Snowflake checks them.
- ``EXECUTE TASK name [USING CONFIG = '…' | RETRY LAST]`` (docs: sql/execute-task), ``ALTER TASK name
  SUSPEND | RESUME`` (sql/alter-task) and ``SHOW TASKS [LIKE '…'] [IN …] [ROOT ONLY]`` (sql/show-tasks), which
  sqlglot parses as Commands that fakesnow cannot run.

The engine is the running task's (``SystemFunctions.graphs``): a session that is not a task's has none, and these
statements then fail naming why, as the ``SYSTEM$`` functions do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlglot import exp

from adapters.simulator.sql.columns import COLUMNS, SHOW_TASKS
from adapters.simulator.sql.statements import (
    PROCEDURE_ERROR_CODE,
    STATEMENT_EXECUTED,
    SqlError,
    Statement,
    unsupported,
)
from domain.errors import DomainError

if TYPE_CHECKING:
    import pyarrow as pa


class TaskGraphs(Protocol):
    """The engine's side of Task Graph SQL; rows are dicts keyed by the documented column names."""

    def table_function(self, name: str, arguments: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def execute_task(self, name: str, *, config: dict[str, Any] | None, retry_last: bool) -> None: ...

    def alter_task(self, name: str, action: str) -> None: ...

    def enable_dependents(self, name: str) -> None:
        """``SYSTEM$TASK_DEPENDENTS_ENABLE``: resume the task and every task after it."""
        ...

    def show_tasks(
        self, *, like: str | None, in_scope: str | None, root_only: bool
    ) -> list[dict[str, Any]]: ...


class Executed(NamedTuple):
    """One statement's result on the session: its rows keyed by column name, rows affected, query id."""

    rows: list[dict[str, Any]]
    rowcount: int | None
    query_id: str | None


class SessionSql(Protocol):
    """What the rules run on the client's own session (``server._SessionSql``)."""

    def run(self, statement: str) -> Executed:
        """Run one Snowflake SQL statement on the session, through the rules (Snowflake Scripting's statements)."""
        ...

    def arrow(self, statement: str) -> pa.Table:
        """The rows of a Snowflake SQL query run on the session, as an Arrow table (unloading.py)."""
        ...

    def scalar(self, expression: str) -> Any:
        """The value of a Snowflake SQL expression, evaluated by the session."""
        ...

    def temp_table(self, name: str, columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> None:
        """(Re)create the session's temporary table ``name`` holding ``rows``."""
        ...

    def query_ids(self) -> list[str]:
        """The ids of the statements the session ran, oldest first (result_scan.py ``last_query_id``)."""
        ...

    def result_table(self, query_id: str, name: str) -> bool:
        """(Re)create the session's temporary table ``name`` holding the result of its statement ``query_id``;
        False when the session has no such result (result_scan.py)."""
        ...


# Table function -> its documented arguments (all optional).
TABLE_FUNCTIONS: dict[str, frozenset[str]] = {
    "TASK_HISTORY": frozenset(
        {
            "SCHEDULED_TIME_RANGE_START",
            "SCHEDULED_TIME_RANGE_END",
            "RESULT_LIMIT",
            "TASK_NAME",
            "ERROR_ONLY",
            "ROOT_TASK_ID",
        }
    ),
    "COMPLETE_TASK_GRAPHS": frozenset({"RESULT_LIMIT", "ROOT_TASK_NAME", "ERROR_ONLY"}),
    "CURRENT_TASK_GRAPHS": frozenset({"RESULT_LIMIT", "ROOT_TASK_NAME"}),
}
_TEMP_PREFIX = "_SF_"


def _called_table_function(node: exp.Expr) -> tuple[str, exp.Anonymous] | None:
    """``TABLE([[DB.]INFORMATION_SCHEMA.]NAME(...))`` for one of ``TABLE_FUNCTIONS``: its name and call."""
    if not isinstance(node, exp.TableFromRows):
        return None
    target = node.this
    call = target.expression if isinstance(target, exp.Dot) else target
    if not isinstance(call, exp.Anonymous) or call.name.upper() not in TABLE_FUNCTIONS:
        return None
    if isinstance(target, exp.Dot):
        parts = target.this.sql(dialect="snowflake").upper().split(".")
        if parts[-1] != "INFORMATION_SCHEMA" or len(parts) > 2:
            return None
    return call.name.upper(), call


def table_functions(statement: Statement) -> str | None:
    """Each Task Graph table function of a query becomes a temporary table of the engine's rows."""
    upper = statement.text.upper()
    if "TABLE" not in upper or not any(name in upper for name in TABLE_FUNCTIONS):
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    calls = [
        (node, found)
        for node in parsed.find_all(exp.TableFromRows)
        if (found := _called_table_function(node))
    ]
    if not calls:
        return None

    graphs, session = _engine(statement, calls[0][1][0]), statement.session.sql
    if session is None:  # every server session has one; a rule called without a session does not
        raise SqlError(f"{calls[0][1][0]} needs a SQL session to run in", 2, "0A000")
    for index, (node, (name, call)) in enumerate(calls, start=1):
        arguments = _arguments(name, call, session)
        try:
            rows = graphs.table_function(name, arguments)
        except DomainError as exc:
            raise _invalid_argument(name, exc) from exc
        table = f"{_TEMP_PREFIX}{name}_{index}"
        session.temp_table(table, COLUMNS[name], rows)
        replacement = exp.to_table(table)
        if (alias := node.args.get("alias")) is not None:
            replacement.set("alias", alias)
        node.replace(replacement)
    return parsed.sql(dialect="snowflake")


def described_table_functions(text: str) -> str:
    """``text`` with its Task Graph table functions as empty tables of their columns, for a describe request
    (which must not run anything): the column types are the engine's, so describing needs no task."""

    upper = text.upper()
    if "TABLE" not in upper or not any(name in upper for name in TABLE_FUNCTIONS):
        return text
    parsed = Statement(text, None).parsed()
    if parsed is None:
        return text
    for node in list(parsed.find_all(exp.TableFromRows)):
        if (found := _called_table_function(node)) is None:
            continue
        empty = exp.select(
            *(
                exp.cast(exp.null(), exp.DataType.build(t, dialect="duckdb")).as_(c)
                for c, t in COLUMNS[found[0]].items()
            )
        ).where(exp.false())
        node.replace(
            exp.Subquery(
                this=empty, alias=node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(found[0]))
            )
        )
    return parsed.sql(dialect="snowflake")


def _arguments(name: str, call: exp.Anonymous, session: SessionSql) -> dict[str, Any]:

    valid = TABLE_FUNCTIONS[name]
    arguments: dict[str, Any] = {}
    for argument in call.expressions:
        if not isinstance(argument, exp.Kwarg):
            raise SqlError(
                f"SQL compilation error: {name} takes named arguments (NAME => value); got "
                f"{argument.sql(dialect='snowflake')!r}; valid names: {sorted(valid)}",
                1044,
                "42P13",
            )
        key = argument.this.name.upper()
        if key not in valid:
            raise SqlError(
                f"SQL compilation error: {name} has no argument {key}; valid: {sorted(valid)}", 1044, "42P13"
            )
        arguments[key] = _value(argument.expression, session)
    return arguments


def _value(node: exp.Expr, session: SessionSql) -> Any:
    if isinstance(node, exp.Literal):
        return str(node.this) if node.is_string else json.loads(str(node.this))
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return -json.loads(str(node.this.this))
    return session.scalar(node.sql(dialect="snowflake"))


def _engine(statement: Statement, what: str) -> TaskGraphs:

    functions = statement.functions
    graphs = functions.graphs if functions is not None else None
    if graphs is None:
        raise SqlError(
            f"{what} is served by the simulator's task engine, available only inside a running task: this session "
            "is not a task's",
            PROCEDURE_ERROR_CODE,
            "P0000",
        )
    return graphs


def _invalid_argument(what: str, exc: DomainError) -> Exception:

    return SqlError(f"{what}: {type(exc).__name__}: {exc}", 1044, "22023")


_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
_TASK_NAME = rf"(?P<name>{_NAME}(?:\.{_NAME}){{0,2}})"
_EXECUTE_TASK = re.compile(
    rf"^\s*EXECUTE\s+TASK\s+{_TASK_NAME}"
    r"(?:\s+USING\s+CONFIG\s*=\s*(?P<config>'(?:[^']|'')*'|\$\$.*?\$\$)|\s+(?P<retry>RETRY\s+LAST))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ALTER_TASK = re.compile(
    rf"^\s*ALTER\s+TASK\s+(?:IF\s+EXISTS\s+)?{_TASK_NAME}\s+(?P<action>SUSPEND|RESUME)\s*;?\s*$",
    re.IGNORECASE,
)
_SHOW_TASKS = re.compile(
    r"^\s*SHOW\s+TASKS(?:\s+LIKE\s+'(?P<like>(?:[^']|'')*)')?"
    r"(?:\s+IN\s+(?P<scope>ACCOUNT|DATABASE(?:\s+\S+)?|SCHEMA(?:\s+\S+)?|\S+))?"
    r"(?P<root>\s+ROOT\s+ONLY)?\s*;?\s*$",
    re.IGNORECASE,
)
_ANY_TASK_STATEMENT = re.compile(
    r"^\s*(EXECUTE\s+TASK|ALTER\s+TASK|SHOW\s+(TERSE\s+)?TASKS)\b", re.IGNORECASE
)


def task_statements(statement: Statement) -> str | None:
    """``EXECUTE TASK``, ``ALTER TASK … SUSPEND|RESUME`` and ``SHOW TASKS``, on the engine's graphs."""
    text = statement.text
    if not _ANY_TASK_STATEMENT.match(text):
        return None

    if (match := _EXECUTE_TASK.match(text)) is not None:
        graphs = _engine(statement, "EXECUTE TASK")
        _run(
            "EXECUTE TASK",
            lambda: graphs.execute_task(
                match["name"], config=_config(match["config"]), retry_last=match["retry"] is not None
            ),
        )
        return STATEMENT_EXECUTED
    if (match := _ALTER_TASK.match(text)) is not None:
        graphs = _engine(statement, "ALTER TASK")
        _run("ALTER TASK", lambda: graphs.alter_task(match["name"], match["action"].upper()))
        return STATEMENT_EXECUTED
    if (match := _SHOW_TASKS.match(text)) is not None:
        graphs = _engine(statement, "SHOW TASKS")
        session = statement.session.sql
        like = match["like"].replace("''", "'") if match["like"] is not None else None
        rows = _run(
            "SHOW TASKS",
            lambda: graphs.show_tasks(
                like=like, in_scope=match["scope"], root_only=match["root"] is not None
            ),
        )
        if session is None:
            raise unsupported("SHOW TASKS needs a SQL session to run in")
        table = f"{_TEMP_PREFIX}{SHOW_TASKS}"
        columns = COLUMNS[SHOW_TASKS]
        session.temp_table(table, columns, rows)
        # SHOW output columns are lower-case, quoted (docs: sql/show-tasks, Output)
        return (
            exp.select(*(exp.column(c, quoted=True) for c in columns)).from_(table).sql(dialect="snowflake")
        )
    raise unsupported(
        f"{' '.join(text.split())[:120]!r}: the simulator serves EXECUTE TASK name [USING CONFIG = '…' | RETRY "
        "LAST], ALTER TASK name SUSPEND | RESUME and SHOW TASKS [LIKE '…'] [IN …] [ROOT ONLY]; on Snowflake this "
        "form changes or lists task properties the simulator does not keep"
    )


def _config(text: str | None) -> dict[str, Any] | None:

    if text is None:
        return None
    body = text[2:-2] if text.startswith("$$") else text[1:-1].replace("''", "'")
    try:
        config = json.loads(body)
    except json.JSONDecodeError as exc:
        raise SqlError(f"EXECUTE TASK … USING CONFIG: {body!r} is not JSON ({exc})", 2141, "22000") from exc
    if not isinstance(config, dict):
        raise SqlError(f"EXECUTE TASK … USING CONFIG: {body!r} must be a JSON object", 2141, "22000")
    return config


def _run(what: str, action: Any) -> Any:

    try:
        return action()
    except DomainError as exc:
        raise SqlError(f"{what}: {type(exc).__name__}: {exc}", PROCEDURE_ERROR_CODE, "P0000") from exc
