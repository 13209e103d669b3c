"""What the SQL server does to a statement before fakesnow sees it: one table of rules, applied in order.

A rule looks at the statement text (and its parse, when it has one) and returns the text to run instead, or
None when it does not apply. A rule may also answer with a Snowflake error (``SqlError``): statements the
simulator cannot honour fail with our named ``Unsupported`` text, never with a parser error.

The rules, most specific first:
- statements that need Snowflake services the simulator does not have (notebooks, container services) fail;
- ``CALL SYSTEM$…(…)`` and ``SYSTEM$…`` functions inside a query are evaluated by the running task's engine
  and replaced by their values (the engine, not DuckDB, owns return values, configs and runtime info);
- fakesnow gaps, each rewritten at the narrowest point (see the rule's comment for the fakesnow code).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from snowflake.connector.errors import ProgrammingError
from sqlglot import exp
from sqlglot.errors import SqlglotError

from adapters.simulator.sql.system import SystemFunctions, literal
from domain.errors import DomainError, Unsupported

UNSUPPORTED_CODE = 2  # Snowflake's "Unsupported feature" error (000002, SQL state 0A000)
PROCEDURE_ERROR_CODE = 100132  # an error raised while running the statement's procedure


class SqlError(ProgrammingError):
    """A Snowflake error the server answers with; the client raises it as ``ProgrammingError``."""

    def __init__(self, message: str, code: int, sqlstate: str) -> None:
        super().__init__(msg=message, errno=code, sqlstate=sqlstate)


def unsupported(message: str) -> SqlError:
    return SqlError(f"{Unsupported.__name__}: {message}", UNSUPPORTED_CODE, "0A000")


@dataclass(frozen=True)
class Statement:
    """One statement as the client sent it, parsed lazily (fakesnow's dialect) by the rules that need it."""

    text: str
    functions: SystemFunctions | None  # None: the session is not bound to a running task

    def parsed(self) -> exp.Expr | None:
        from fakesnow.dialect import parse_one

        try:
            return parse_one(self.text)
        except SqlglotError:  # fakesnow reports it as Snowflake's syntax error
            return None


Rule = Callable[[Statement], str | None]

# Statement -> what it would run on Snowflake. Matched on the text: some of these do not parse.
_CANNOT_HONOUR: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^\s*EXECUTE\s+NOTEBOOK\b", re.IGNORECASE),
        "on Snowflake this runs a Snowflake Notebook's cells in a warehouse or container runtime; the "
        "simulator does not run notebooks — run the notebook's code as a Python task instead",
    ),
    (
        re.compile(r"^\s*EXECUTE\s+JOB\s+SERVICE\b", re.IGNORECASE),
        "on Snowflake this runs a container image as a job in a compute pool (Snowpark Container Services); "
        "the simulator runs no containers — use an MLJobDefinition or @remote task instead",
    ),
    (
        re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?SERVICE\b", re.IGNORECASE),
        "on Snowflake this starts a long-running container service in a compute pool (Snowpark Container "
        "Services); the simulator runs no containers",
    ),
    (
        re.compile(r"^\s*(ALTER|DROP)\s+SERVICE\b", re.IGNORECASE),
        "on Snowflake this manages a container service in a compute pool (Snowpark Container Services); the "
        "simulator runs no containers",
    ),
)


def _cannot_honour(statement: Statement) -> str | None:
    for pattern, what in _CANNOT_HONOUR:
        if pattern.match(statement.text):
            raise unsupported(f"{_short(statement.text)!r}: {what}")
    return None


def _is_system_call(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.upper().startswith("SYSTEM$")


# SYSTEM$ functions of any session, task or not: Snowpark's Session.close() cancels the session's queries
# (snowflake/snowpark/session.py ``cancel_all``); a session's statements run one at a time here, so when the
# client can send this one, nothing of that session is running.
_SESSION_FUNCTIONS: dict[str, Callable[..., str]] = {
    "SYSTEM$CANCEL_ALL_QUERIES": lambda *_: "0 queries cancelled",
}


def _session_functions(statement: Statement) -> str | None:
    if not any(name in statement.text.upper() for name in _SESSION_FUNCTIONS):
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None

    def evaluate(node: exp.Expr) -> exp.Expr:
        if _is_system_call(node) and node.name.upper() in _SESSION_FUNCTIONS:
            return literal(_SESSION_FUNCTIONS[node.name.upper()](*node.expressions))
        return node

    return parsed.transform(evaluate).sql(dialect="snowflake")


def _system_functions(statement: Statement) -> str | None:
    if "SYSTEM$" not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    call = _called(parsed)
    if call is None and not any(_is_system_call(n) for n in parsed.walk()):
        return None
    functions = statement.functions
    if functions is None:
        raise SqlError(
            "SYSTEM$ task functions are available only inside a running task: this session is not a task's",
            PROCEDURE_ERROR_CODE,
            "P0000",
        )
    try:
        if call is not None:
            # CALL returns one row whose column is named after the procedure, as Snowflake's does.
            value = functions.value_of(call)
            return exp.select(literal(value).as_(call.name.upper(), quoted=True)).sql(dialect="snowflake")
        rewritten = parsed.transform(lambda n: literal(functions.value_of(n)) if _is_system_call(n) else n)
    except DomainError as exc:
        raise SqlError(f"{type(exc).__name__}: {exc}", PROCEDURE_ERROR_CODE, "P0000") from exc
    return rewritten.sql(dialect="snowflake")


def _called(parsed: exp.Expr) -> exp.Expr | None:
    """The ``SYSTEM$`` function a ``CALL`` statement calls, if it is one (sqlglot parses CALL as a Command)."""
    if not (isinstance(parsed, exp.Command) and parsed.name.upper() == "CALL"):
        return None
    from fakesnow.dialect import parse_one

    target = parse_one(parsed.expression.name)
    return target if _is_system_call(target) else None


RULES: tuple[Rule, ...] = (_cannot_honour, _session_functions, _system_functions)


def rewrite(text: str, functions: SystemFunctions | None) -> str:
    """The statement to hand fakesnow instead of ``text`` (``text`` itself when no rule applies)."""
    for rule in RULES:
        replaced = rule(Statement(text, functions))
        if replaced is not None:
            text = replaced
    return text


def describable(text: str) -> str:
    """``text`` with its ``SYSTEM$`` calls as typed NULLs: describing a statement must not run them."""
    if "SYSTEM$" not in text.upper():
        return text
    parsed = Statement(text, None).parsed()
    if parsed is None:
        return text
    return parsed.transform(
        lambda n: exp.cast(exp.null(), exp.DataType.build("VARCHAR")) if _is_system_call(n) else n
    ).sql(dialect="snowflake")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:120] + "…"
