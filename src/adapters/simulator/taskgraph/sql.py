"""Snowflake SQL inside a task: ``SYSTEM$`` functions served by the engine, the rest run on DuckDB.

Each statement is parsed with sqlglot (Snowflake dialect). ``CALL SYSTEM$…(…)`` is dispatched to the engine;
in queries, every ``SYSTEM$…`` call is evaluated first and replaced by its value as a literal, then the query
is transpiled to DuckDB and run on the home's database. Rows come back as ``snowflake.snowpark.Row`` with
upper-case column names, as Snowflake returns unquoted identifiers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from adapters.simulator.account.errors import USER_INPUT, translated
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.webhook_content import redact_placeholders
from domain.errors import InvalidConfig, Unsupported
from domain.ports import Notifier
from domain.refs import Notification

if TYPE_CHECKING:
    from snowflake.snowpark import Row  # imported where rows are made: Snowpark takes seconds to import


class TaskRuntime(Protocol):
    """The running task, as its SQL and its session see it."""

    full_name: str

    def set_return_value(self, value: str) -> None: ...

    def predecessor_return_value(self, name: str | None) -> str | None: ...

    def graph_config(self) -> dict[str, Any]: ...

    def runtime_info(self, prop: str) -> str | None: ...

    def task_completion_state(self, name: str) -> str: ...

    def cancel_graph(self, name: str) -> list[int]: ...


@dataclass(frozen=True)
class _Message:
    body: str
    content_type: str


@dataclass(frozen=True)
class _Target:
    integration: str
    subject: str | None = None


class SystemFunctions:
    """``SYSTEM$…`` and ``SNOWFLAKE.NOTIFICATION.…`` functions for one running task."""

    def __init__(self, runtime: TaskRuntime, notifier: Notifier | None) -> None:
        self._runtime = runtime
        self._notifier = notifier
        self._system: dict[str, Callable[..., Any]] = {
            "SYSTEM$SET_RETURN_VALUE": self._set_return_value,
            "SYSTEM$GET_PREDECESSOR_RETURN_VALUE": self._get_predecessor_return_value,
            "SYSTEM$GET_TASK_GRAPH_CONFIG": self._get_task_graph_config,
            "SYSTEM$CURRENT_USER_TASK_NAME": lambda: runtime.full_name,
            "SYSTEM$TASK_RUNTIME_INFO": lambda prop: runtime.runtime_info(str(prop).upper()),
            "SYSTEM$TASK_COMPLETION_STATE": lambda name: runtime.task_completion_state(str(name)),
            "SYSTEM$SEND_SNOWFLAKE_NOTIFICATION": self._send_notification,
            "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS": self._cancel_ongoing_executions,
        }
        self._notification: dict[str, Callable[..., Any]] = {
            "TEXT_PLAIN": lambda body: _Message(str(body), "text/plain"),
            "TEXT_HTML": lambda body: _Message(str(body), "text/html"),
            "APPLICATION_JSON": lambda body: _Message(str(body), "application/json"),
            "SANITIZE_WEBHOOK_CONTENT": lambda body: redact_placeholders(str(body)),
            "INTEGRATION": lambda name: _Target(str(name)),
            "EMAIL_INTEGRATION_CONFIG": lambda name, subject, *_addresses: _Target(str(name), str(subject)),
        }

    def call(self, name: str, *args: Any) -> Any:
        handler = self._system.get(name.upper())
        if handler is None:
            raise Unsupported(f"{name} is not available in the simulator; available: {sorted(self._system)}")
        try:
            return handler(*args)
        except TypeError as exc:
            raise InvalidConfig(f"{name.upper()} called with {len(args)} argument(s): {exc}") from exc

    def _set_return_value(self, value: Any) -> None:
        self._runtime.set_return_value(str(value))

    def _get_predecessor_return_value(self, name: str | None = None) -> str | None:
        return self._runtime.predecessor_return_value(name)

    def _get_task_graph_config(self, path: str | None = None) -> str | None:
        value: Any = self._runtime.graph_config()
        if not value:
            return None
        for key in path.split(".") if path else ():
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
        return value if isinstance(value, str) and path else json.dumps(value)

    def _cancel_ongoing_executions(self, name: Any) -> str:
        # Returns at once, so a task may cancel its own graph: it is then abandoned like the others.
        run_ids = self._runtime.cancel_graph(str(name))
        return (
            f"Cancelled {len(run_ids)} ongoing execution(s): {run_ids}"
            if run_ids
            else "No ongoing executions"
        )

    def _send_notification(self, messages: Any, targets: Any) -> str:
        if self._notifier is None:
            raise Unsupported(
                "SYSTEM$SEND_SNOWFLAKE_NOTIFICATION needs a notifier: pass notifier=... to LocalDAGOperation"
            )
        messages = messages if isinstance(messages, list) else [messages]
        targets = targets if isinstance(targets, list) else [targets]
        for m in messages:
            if not isinstance(m, _Message):
                raise InvalidConfig(
                    f"notification message {m!r}: wrap it in SNOWFLAKE.NOTIFICATION.TEXT_PLAIN(...)"
                )
        for t in targets:
            if not isinstance(t, _Target):
                raise InvalidConfig(
                    f"notification target {t!r}: use SNOWFLAKE.NOTIFICATION.INTEGRATION('<name>')"
                )
            for m in messages:
                subject = t.subject or f"Snowflake notification from task {self._runtime.full_name}"
                self._notifier.send(t.integration, Notification(subject, m.body, m.content_type))
        return "Notification sent"

    def value_of(self, node: exp.Expression) -> Any:
        """Evaluate an argument: literals, arrays, and (nested) system or notification functions."""
        if isinstance(node, exp.Literal):
            return str(node.this) if node.is_string else json.loads(str(node.this))
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Array):
            return [self.value_of(e) for e in node.expressions]
        if isinstance(node, exp.Paren):
            return self.value_of(node.this)
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
            namespace = node.this.sql(dialect="snowflake").upper()
            fn = node.expression
            handler = self._notification.get(fn.name.upper())
            if namespace != "SNOWFLAKE.NOTIFICATION" or handler is None:
                raise Unsupported(f"{namespace}.{fn.name} is not available in the simulator")
            return handler(*(self.value_of(a) for a in fn.expressions))
        if isinstance(node, exp.Anonymous) and node.name.upper().startswith("SYSTEM$"):
            return self.call(node.name, *(self.value_of(a) for a in node.expressions))
        raise Unsupported(f"argument {node.sql(dialect='snowflake')!r} is not supported in a simulated CALL")


def run_sql(text: str, functions: SystemFunctions, account: LocalAccount) -> list[Row]:
    """Run Snowflake SQL text (one or more statements); returns the rows of the last statement."""
    try:
        statements = [s for s in sqlglot.parse(text, read="snowflake") if s is not None]
    except SqlglotError as exc:
        raise InvalidConfig(f"SQL {_short(text)!r} cannot be parsed: {exc}") from exc
    rows: list[Row] = []
    for statement in statements:
        rows = _run_statement(statement, functions, account)
    return rows


def _run_statement(statement: exp.Expression, functions: SystemFunctions, account: LocalAccount) -> list[Row]:
    from snowflake.snowpark import Row

    if isinstance(statement, exp.Command) and statement.name.upper() == "CALL":
        call = sqlglot.parse_one(str(statement.expression.this), read="snowflake")
        if not (isinstance(call, exp.Anonymous) and call.name.upper().startswith("SYSTEM$")):
            raise Unsupported(
                f"CALL {call.sql(dialect='snowflake')}: the simulator serves only SYSTEM$ procedures"
            )
        value = functions.value_of(call)
        return [Row(**{call.name.upper(): value})]
    statement = statement.transform(
        lambda node: (
            _literal(functions.value_of(node))
            if isinstance(node, exp.Anonymous) and node.name.upper().startswith("SYSTEM$")
            else node
        )
    )
    # Re-parse once the values are literals: sqlglot types functions such as TO_TIMESTAMP by their arguments.
    query = sqlglot.transpile(statement.sql(dialect="snowflake"), read="snowflake", write="duckdb")[0]
    with translated(f"SQL {_short(query)!r} failed", USER_INPUT), account.cursor() as cur:
        cur.execute(query)
        if cur.description is None:
            return []
        names = [d[0].upper() for d in cur.description]
        fields = Row(*names)
        return [fields(*r) for r in cur.fetchall()]


def _literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "…"
