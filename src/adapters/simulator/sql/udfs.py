"""Python scalar UDFs: ``CREATE FUNCTION … LANGUAGE PYTHON`` kept in the account, called from SQL as DuckDB functions.

Docs: developer-guide/udf/python/udf-python-introduction, sql/create-function. Snowpark's ``session.udf.register``
(``@udf``, ``register_from_file``) sends the same statement as ``sproc.register``, with a ``compute`` handler that
unpickles the function, inline or in a zip it PUT on the session stage (snowflake/snowpark/_internal/udf_utils.py
``create_python_udf_or_sp``, ``generate_python_code``, ``resolve_imports_and_packages``); the handler is loaded by
the loader procedures use (procedures.py ``load_handler``). ``call_udf("F", col)`` and ``udf(col)`` send ``F("COL")``.

How they run here:
- each UDF becomes a DuckDB Python function (``DuckDBPyConnection.create_function``) on the account's connection,
  under an internal name unique to its definition (DuckDB's functions are global to the connection, unqualified):
  a call ``[DB.][SCHEMA.]F(args)`` that resolves to a UDF is rewritten to that name, its arguments cast to the
  declared types;
- NULL arguments reach the handler (Snowflake's default, CALLED ON NULL INPUT); ``STRICT`` / ``RETURNS NULL ON NULL
  INPUT`` answer NULL without calling it; vectorized UDFs (``@pandas_udf``, a handler marked
  ``_sf_vectorized_input``) get a pandas DataFrame of a batch and return a Series;
- a permanent UDF is a row of the account's ``SQL_FUNCTIONS`` table (it survives restarts, registered again on
  first call); a TEMPORARY one lives in its session;
- an error raised by the handler fails the statement as Snowflake's "Python Interpreter Error" (100357) naming the
  function;
- UDTFs (``RETURNS TABLE``), UDAFs (``CREATE AGGREGATE FUNCTION``) and other languages fail as ``Unsupported``.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from sqlglot import exp
from sqlglot.expressions.datatypes import DType

from adapters.simulator.sql import procedures, scripting_tokens, statements
from adapters.simulator.sql.procedures import QUALIFIED_NAME, resolve_name

if TYPE_CHECKING:
    import duckdb

    from adapters.simulator.account.home import LocalAccount

TABLE = "SQL_FUNCTIONS"
INTERPRETER_ERROR_CODE = 100357  # "Python Interpreter Error", what Snowflake answers an error raised in a UDF
_INTERNAL_PREFIX = "_sf_udf_"
_CREATE = re.compile(
    r"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?(?P<temporary>(?:TEMP|TEMPORARY)\s+)?(?:SECURE\s+)?"
    rf"(?P<aggregate>AGGREGATE\s+)?FUNCTION\s+(?P<exists>IF\s+NOT\s+EXISTS\s+)?(?P<name>{QUALIFIED_NAME})\s*\("
    r"(?=.*\bLANGUAGE\s+(?:PYTHON|JAVA|SCALA|JAVASCRIPT)\b)",  # SQL UDFs are left to fakesnow
    re.IGNORECASE | re.DOTALL,
)
_DROP = re.compile(
    rf"^\s*DROP\s+FUNCTION\s+(?P<exists>IF\s+EXISTS\s+)?(?P<name>{QUALIFIED_NAME})\s*\(", re.IGNORECASE
)
_STRICT = re.compile(r"\bLANGUAGE\s+PYTHON\s+STRICT\b|\bRETURNS\s+NULL\s+ON\s+NULL\s+INPUT\b", re.IGNORECASE)
_JSON_TYPES = frozenset({exp.DataType.Type.VARIANT, exp.DataType.Type.OBJECT, exp.DataType.Type.ARRAY})
_SIMPLE_TYPES: dict[DType, str] = {
    **{t: "BIGINT" for t in exp.DataType.INTEGER_TYPES},
    **{t: "DOUBLE" for t in (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)},
    **{t: "VARCHAR" for t in exp.DataType.TEXT_TYPES},
    exp.DataType.Type.BOOLEAN: "BOOLEAN",
    exp.DataType.Type.DATE: "DATE",
    exp.DataType.Type.TIME: "TIME",
    exp.DataType.Type.TIMESTAMP: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMPNTZ: "TIMESTAMP",
    exp.DataType.Type.DATETIME: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMPLTZ: "TIMESTAMPTZ",
    exp.DataType.Type.TIMESTAMPTZ: "TIMESTAMPTZ",
    exp.DataType.Type.BINARY: "BLOB",
    exp.DataType.Type.VARBINARY: "BLOB",
    **{t: "JSON" for t in _JSON_TYPES},  # fakesnow keeps VARIANT, OBJECT and ARRAY as JSON
}


class PythonInterpreterError(Exception):
    """Raised out of a UDF's DuckDB function: DuckDB keeps only its text, which ``raised`` reads back."""


@dataclass(frozen=True)
class Function(procedures.Stored):
    """One Python UDF's definition, as CREATE FUNCTION gave it."""

    argument_types: tuple[str, ...]
    strict: bool  # RETURNS NULL ON NULL INPUT


class _Registry:
    """One account's UDFs as DuckDB knows them: the permanent definitions (read once from ``SQL_FUNCTIONS``: one
    process holds a home) and the functions created on the registry's own cursor. DuckDB keeps a Python
    function with the cursor that created it — only that cursor can remove it, and a closed one leaves the
    function dangling (a crash on the next call) — so that cursor lives as long as the account."""

    def __init__(self, account: LocalAccount) -> None:
        self.permanent: dict[tuple[str, str, str, int], Function] | None = None
        self.created: set[str] = set()
        self.lock = threading.Lock()
        self._account = account
        self._duck: duckdb.DuckDBPyConnection | None = None

    def duck(self) -> duckdb.DuckDBPyConnection:
        """The registry's cursor; call it under the account lock."""
        if self._duck is None:
            self._duck = self._account.session_cursor()
            self._account.on_close(self._close)
        return self._duck

    def _close(self) -> None:
        with self._account.cursor():  # no statement is calling one of its functions
            if self._duck is not None:
                self._duck.close()


_registries: weakref.WeakKeyDictionary[LocalAccount, _Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def _registry(account: LocalAccount) -> _Registry:
    with _registries_lock:
        registry = _registries.get(account)
        if registry is None:
            registry = _registries[account] = _Registry(account)
        return registry


def _permanent(state: statements.SessionState) -> dict[tuple[str, str, str, int], Function]:
    if state.account is None:
        return {}
    registry = _registry(state.account)
    with registry.lock:
        if registry.permanent is None:
            with state.account.cursor() as cur:
                cur.execute(procedures._ddl(TABLE))
                rows = cur.execute(f"select DEFINITION from {TABLE}").fetchall()
            loaded = (Function.from_json(row[0]) for row in rows)
            registry.permanent = {f.key: f for f in loaded}
        return registry.permanent


def create_function(statement: statements.Statement) -> str | None:
    """``CREATE [OR REPLACE] [TEMPORARY] FUNCTION … LANGUAGE PYTHON``: kept, its handler loaded (as Snowflake
    checks it at creation), answered as Snowflake does."""
    match = _CREATE.match(statement.text)
    if match is None:
        return None
    if match["aggregate"]:
        raise statements.unsupported(
            f"aggregate function {match['name']}: on Snowflake a Python UDAF accumulates rows per group with its "
            "handler class; the simulator runs scalar Python UDFs only — aggregate with DataFrame functions"
        )
    definition = procedures.read_definition(statement, match, "function")
    if definition.returns == "TABLE":
        raise statements.unsupported(
            f"function {definition.name} RETURNS TABLE(…): on Snowflake a Python UDTF's handler class yields rows "
            "per input row; the simulator runs scalar Python UDFs only — return one value per row"
        )
    function = Function(**definition.stored(), strict=bool(_STRICT.search(definition.header)))
    for kind in (*function.argument_types, function.returns):
        _duck_type(kind, function)  # an unsupported type fails the CREATE, as a bad one does on Snowflake
    procedures.load_handler(function, "function")
    replace, exists = bool(match["replace"]), bool(match["exists"])
    if match["temporary"]:
        kept = statement.session.functions
        if function.key in kept and not (replace or exists):
            raise procedures.already_exists(function.qualified)
        if not (exists and function.key in kept):
            kept[function.key] = function
    elif procedures.store(
        statement.session, TABLE, function.key, function.to_json(), replace=replace, if_not_exists=exists
    ):
        _permanent(statement.session)[function.key] = function
    return procedures.status(f"Function {function.name} successfully created.")


def drop_function(statement: statements.Statement) -> str | None:
    """``DROP FUNCTION [IF EXISTS] name(TYPE, …)`` of a Python UDF (docs: sql/drop-function)."""
    match = _DROP.match(statement.text)
    if match is None:
        return None
    types, rest = scripting_tokens.parenthesised(statement.text, match.end() - 1)
    if rest.strip().rstrip(";").strip():
        return None
    state = statement.session
    key = (*resolve_name(match["name"], state), len(scripting_tokens.split(types)))
    if state.functions.pop(key, None) is None:
        permanent = _permanent(state)
        if key not in permanent:
            if match["exists"]:
                return procedures.status(f"Drop statement executed successfully ({key[2]} already dropped).")
            return None  # not a Python UDF of ours: fakesnow answers (a SQL UDF, or its "does not exist")
        assert state.account is not None  # _permanent found it in the account
        with state.account.transaction() as cur:
            cur.execute(f"delete from {TABLE} where {procedures._KEY}", list(key))
        del permanent[key]
    return procedures.status(f"{key[2]} successfully dropped.")


def call_function(statement: statements.Statement) -> str | None:
    """Calls of the session's UDFs in any statement, rewritten to their DuckDB functions (created when first
    called: after a restart, a permanent UDF is loaded again here)."""
    state = statement.session
    if state.account is None or "(" not in statement.text or not (state.functions or _permanent(state)):
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    changed = False
    for call in list(parsed.find_all(exp.Anonymous)):
        target, parts = _called_name(call)
        function = _lookup(state, statement, parts, len(call.expressions))
        if function is None:
            continue
        name = _created(state, function)
        arguments = [
            exp.cast(a, exp.DataType.build(_duck_type(t, function), dialect="duckdb"))
            for a, t in zip(call.expressions, function.argument_types, strict=True)
        ]
        called: exp.Expr = exp.Anonymous(this=name, expressions=arguments)
        if isinstance(target.parent, exp.Select) and target in target.parent.expressions:
            # an unaliased call's column is named after the call as written, not the internal name
            called = exp.alias_(called, target.sql(dialect="snowflake"), quoted=True)
        target.replace(called)
        changed = True
    return parsed.sql(dialect="snowflake") if changed else None


def end_session(state: statements.SessionState) -> None:
    """Drop the DuckDB functions of a closing session's TEMPORARY UDFs."""
    if state.account is None or not state.functions:
        return
    registry = _registry(state.account)
    with registry.lock, state.account.cursor():
        for function in state.functions.values():
            name = _internal_name(function, state)
            if name in registry.created:
                registry.duck().remove_function(name)
                registry.created.discard(name)
    state.functions.clear()


def raised(error: duckdb.Error) -> statements.SqlError | None:
    """The Snowflake error a UDF's handler raised, out of the DuckDB error that carries it."""
    text = str(error)
    marker = f"{PythonInterpreterError.__name__}: "
    if marker not in text:
        return None
    return statements.SqlError(text.split(marker, 1)[1], INTERPRETER_ERROR_CODE, "P0000")


def _called_name(call: exp.Anonymous) -> tuple[exp.Expr, list[str]]:
    """The node a call stands as (``DB.SC.F(x)`` parses as dots around ``F(x)``) and its name's parts, normalised
    as Snowflake resolves identifiers."""
    parts = [_part(call.this)]
    target: exp.Expr = call
    parent = call.parent
    if isinstance(parent, exp.Dot) and parent.expression is call:
        target = parent
        qualifier = parent.this
        prefix: list[str] = []
        while isinstance(qualifier, exp.Dot):
            prefix.insert(0, _part(qualifier.expression))
            qualifier = qualifier.this
        parts = [_part(qualifier), *prefix, *parts]
    return target, parts


def _part(node: Any) -> str:
    if isinstance(node, exp.Identifier):
        return str(node.this) if node.quoted else str(node.this).upper()
    if isinstance(node, exp.Column | exp.Table):
        return _part(node.this)
    return str(node).upper()


def _lookup(
    state: statements.SessionState, statement: statements.Statement, parts: list[str], arity: int
) -> Function | None:
    if len(parts) > 3 or parts[-1].upper().startswith("SYSTEM$"):
        return None
    location = [statement.database, statement.schema][: 3 - len(parts)]
    if None in location:
        return None
    key = (*location, *parts, arity)
    found = state.functions.get(key)
    return found if found is not None else _permanent(state).get(key)  # type: ignore[arg-type]


def _internal_name(function: Function, state: statements.SessionState) -> str:
    # a temporary UDF's name is its session's own: another session's UDF of the same definition is another
    scope = f"session {id(state)}" if function.key in state.functions else "account"
    digest = sha256(f"{scope}\n{function.to_json()}".encode()).hexdigest()[:16]
    readable = re.sub(r"\W", "_", function.name.lower())
    return f"{_INTERNAL_PREFIX}{readable}_{digest}"


def _created(state: statements.SessionState, function: Function) -> str:
    """The DuckDB function of ``function``, created on the account's connection if it is not yet."""
    assert state.account is not None  # call_function checked it
    name = _internal_name(function, state)
    registry = _registry(state.account)
    with registry.lock:
        if name in registry.created:
            return name
        handler = procedures.load_handler(function, "function")
        vectorized = getattr(handler, "_sf_vectorized_input", None) is not None
        run = _vectorized(function, handler) if vectorized else _scalar(function, handler)
        from duckdb.func import FunctionNullHandling, PythonUDFType

        parameters: list[str] = [_duck_type(t, function) for t in function.argument_types]
        with state.account.cursor():
            registry.duck().create_function(
                name,
                run,
                parameters,  # type: ignore[arg-type]  # DuckDB parses type names (its stubs list a few literally)
                _duck_type(function.returns, function),
                type=PythonUDFType.ARROW if vectorized else PythonUDFType.NATIVE,
                # DuckDB's DEFAULT answers NULL for a NULL argument without calling; SPECIAL calls with None
                null_handling=FunctionNullHandling.DEFAULT
                if function.strict
                else FunctionNullHandling.SPECIAL,
                side_effects=True,  # VOLATILE, Snowflake's default: never folded into a constant
            )
        registry.created.add(name)
    return name


def _scalar(function: Function, handler: Callable[..., Any]) -> Callable[..., Any]:
    loads = [_is_json(t) for t in function.argument_types]
    dumps = _is_json(function.returns)

    def run(*values: Any) -> Any:
        values = tuple(
            json.loads(v) if load and isinstance(v, str) else v for v, load in zip(values, loads, strict=True)
        )
        result = _called(function, handler, values)
        return json.dumps(result, default=str) if dumps and result is not None else result

    # DuckDB counts ``*values`` as one parameter: a UDF of no arguments needs a function of none
    return run if function.arguments else lambda: run()  # noqa: PLW0108  (the point: a function of no parameters)


def _vectorized(function: Function, handler: Callable[..., Any]) -> Callable[..., Any]:
    """A pandas UDF over DuckDB's arrow batches: Snowpark's ``compute`` reads the DataFrame's columns by position
    (udf_utils.py ``generate_python_code``: ``df[idx] for idx in range(df.shape[1])``)."""
    import pandas as pd
    import pyarrow as pa

    loads = [_is_json(t) for t in function.argument_types]
    dumps = _is_json(function.returns)

    def run(*columns: Any) -> Any:
        frame = pd.DataFrame(
            {
                i: (c.to_pandas().map(json.loads, na_action="ignore") if load else c.to_pandas())
                for i, (c, load) in enumerate(zip(columns, loads, strict=True))
            }
        )
        result = pd.Series(_called(function, handler, (frame,)))
        if dumps:
            result = result.map(lambda v: json.dumps(v, default=str), na_action="ignore")
        return pa.Array.from_pandas(result)

    return run


def _called(function: Function, handler: Callable[..., Any], values: tuple[Any, ...]) -> Any:
    try:
        return handler(*values)
    except Exception as exc:  # the handler's own error is the statement's, as on Snowflake
        raise PythonInterpreterError(
            f"Python Interpreter Error:\n{type(exc).__name__}: {exc} in function {function.name} with handler "
            f"{function.handler}"
        ) from exc


def _is_json(kind: str) -> bool:
    return exp.DataType.build(kind, dialect="snowflake").this in _JSON_TYPES


def _duck_type(kind: str, function: Function) -> str:
    """The DuckDB type a UDF's argument or result of Snowflake type ``kind`` has: the Python values Snowflake
    passes (docs: udf/python/udf-python-designing, SQL-Python type mappings) — NUMBER(p,0) an int, NUMBER(p,s) a
    Decimal, FLOAT a float, VARIANT/OBJECT/ARRAY the parsed JSON value."""
    built = exp.DataType.build(kind, dialect="snowflake")
    if built.this in (exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL):
        params = [int(p.name) for p in built.expressions]
        scale = params[1] if len(params) > 1 else 0
        return "BIGINT" if scale == 0 else f"DECIMAL({params[0]}, {scale})"
    if (duck := _SIMPLE_TYPES.get(built.this)) is not None:
        return duck
    raise statements.unsupported(
        f"function {function.name}: type {kind} — the simulator's Python UDFs take and return numbers, text, "
        "booleans, dates and times, binary and VARIANT/OBJECT/ARRAY"
    )
