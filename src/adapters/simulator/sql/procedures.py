"""User stored procedures: ``CREATE PROCEDURE … LANGUAGE PYTHON`` kept in the account, ``CALL`` running them.

Docs: sql/create-procedure (Python handler: ``HANDLER='fn'``, ``AS $$…$$`` inline code or ``IMPORTS`` of stage
files), sql/call (one row, its column named after the procedure). Snowpark's ``session.sproc.register`` sends the
same statement with an inline handler that unpickles the function (snowflake/snowpark/_internal/udf_utils.py
``create_python_udf_or_sp``, ``generate_python_code``) after reading ``INFORMATION_SCHEMA.PACKAGES``
(snowflake/snowpark/session.py ``_get_available_versions_for_packages``), served here as the packages installed
in the simulator's own environment. ``session.call`` sends ``CALL name(1 :: INT, …)``
(udf_utils.py ``generate_call_python_sp_sql``).

How they run here:
- a permanent procedure is a row of the account's ``SQL_PROCEDURES`` table (it survives restarts); a TEMPORARY
  one (``sproc.register``'s default) lives in its session, as Snowflake scopes it;
- procedures are told apart by schema, name and number of arguments (Snowflake overloads by argument types);
- ``CALL`` evaluates the arguments as a ``SELECT`` on a new Snowpark session of the same account — logged in as
  the calling task when the caller is one, so ``SYSTEM$`` functions and ``TaskContext`` work inside — in the
  procedure's schema, and calls ``handler(session, *args)`` in the simulator's process and Python;
- ``EXECUTE AS CALLER|OWNER`` is accepted and not enforced (the simulator has one role); ``RUNTIME_VERSION`` is
  not checked (the local interpreter runs it); ``PACKAGES`` must be installed locally;
- ``IMPORTS`` of stage files are read from the stage folders (``.py`` modules and ``.zip`` archives);
- a ``LANGUAGE SQL`` procedure's Snowflake Scripting block runs on the calling session (scripting.py), its
  arguments bound as the block's variables, in the caller's current schema (as EXECUTE AS CALLER would);
- Python ``RETURNS TABLE(…)`` procedures and other languages fail as ``Unsupported``, naming what would run on
  Snowflake.
Python UDFs (udfs.py) share the definition reader and the handler loader here.
"""

from __future__ import annotations

import atexit
import gzip
import importlib.metadata
import json
import re
import shutil
import sys
import tempfile
import types
import zipimport
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol, Self

from sqlglot import exp

from adapters.simulator.sql import scripting, scripting_tokens, statements
from adapters.simulator.sql.system import literal

TABLE = "SQL_PROCEDURES"
_KEY = "DATABASE_NAME = ? and SCHEMA_NAME = ? and NAME = ? and ARITY = ?"


def _ddl(table: str) -> str:
    return (
        f"create table if not exists {table} (DATABASE_NAME varchar, SCHEMA_NAME varchar, NAME varchar, "
        "ARITY integer, DEFINITION varchar, primary key (DATABASE_NAME, SCHEMA_NAME, NAME, ARITY))"
    )


_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$]*)'
QUALIFIED_NAME = rf"{_NAME}(?:\s*\.\s*{_NAME}){{0,2}}"
_CREATE = re.compile(
    r"^\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?(?P<temporary>(?:TEMP|TEMPORARY)\s+)?(?:SECURE\s+)?"
    rf"PROCEDURE\s+(?P<exists>IF\s+NOT\s+EXISTS\s+)?(?P<name>{QUALIFIED_NAME})\s*\(",
    re.IGNORECASE,
)
_CALL = re.compile(rf"^\s*CALL\s+(?P<name>{QUALIFIED_NAME})\s*\(", re.IGNORECASE)
_DESCRIBE = re.compile(rf"^\s*(?:DESC|DESCRIBE)\s+PROCEDURE\s+(?P<name>{QUALIFIED_NAME})\s*\(", re.IGNORECASE)
_CLAUSES = {
    "language": re.compile(r"\bLANGUAGE\s+(\w+)", re.IGNORECASE),
    "runtime_version": re.compile(r"\bRUNTIME_VERSION\s*=\s*'?([\d.]+)'?", re.IGNORECASE),
    "handler": re.compile(r"\bHANDLER\s*=\s*'([^']+)'", re.IGNORECASE),
    "execute_as": re.compile(r"\bEXECUTE\s+AS\s+(RESTRICTED\s+CALLER|CALLER|OWNER)\b", re.IGNORECASE),
    "packages": re.compile(r"\bPACKAGES\s*=\s*\(([^)]*)\)", re.IGNORECASE),
    "imports": re.compile(r"\bIMPORTS\s*=\s*\(([^)]*)\)", re.IGNORECASE),
}
_RETURNS = re.compile(r"\bRETURNS\s+(?P<type>TABLE\b|\w+(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?)", re.IGNORECASE)
_BARE_BLOCK = re.compile(r"\bAS\s+(?P<block>(?:DECLARE|BEGIN)\b.*)$", re.IGNORECASE | re.DOTALL)
_JSON_TYPES = ("VARIANT", "OBJECT", "ARRAY")
UNKNOWN_CODE = 2140  # "SQL compilation error: Unknown function"


@dataclass(frozen=True)
class Stored:
    """What is kept of a procedure's or a UDF's definition (``SQL_PROCEDURES`` / ``SQL_FUNCTIONS`` rows, as JSON)."""

    database: str
    schema: str
    name: str
    arguments: tuple[str, ...]  # the arguments' names, in order
    returns: str
    handler: str
    code: str | None
    imports: tuple[str, ...]
    packages: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.database, self.schema, self.name, len(self.arguments)

    @property
    def qualified(self) -> str:
        return ".".join(_quoted(p) for p in (self.database, self.schema, self.name))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Self:
        row: dict[str, Any] = json.loads(text)
        kept: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in row.items()}
        return cls(**kept)


@dataclass(frozen=True)
class Procedure(Stored):
    """One stored procedure's definition, as CREATE PROCEDURE gave it."""

    execute_as: str
    # the arguments' types as CREATE gave them; empty for procedures kept before the types were
    argument_types: tuple[str, ...] = ()
    language: str = "PYTHON"  # or SQL: ``code`` is a Snowflake Scripting block (scripting.py)


@dataclass(frozen=True)
class Definition:
    """What ``CREATE PROCEDURE`` and ``CREATE FUNCTION`` of a Python handler say alike (docs: sql/create-procedure,
    sql/create-function)."""

    database: str
    schema: str
    name: str
    arguments: tuple[str, ...]
    argument_types: tuple[str, ...]
    returns: str  # upper-cased; "TABLE" for RETURNS TABLE(…)
    handler: str
    code: str | None
    imports: tuple[str, ...]
    packages: tuple[str, ...]
    header: str  # the clauses between the argument list and the body, for what only one of them reads
    language: str  # PYTHON, or SQL (a procedure's Snowflake Scripting block in ``code``)

    def stored(self) -> dict[str, Any]:
        """The fields every kept definition has (``Stored``'s), and the argument types."""
        kept = {f.name for f in fields(Stored)} | {"argument_types"}
        return {k: v for k, v in asdict(self).items() if k in kept}


def read_definition(
    statement: statements.Statement, match: re.Match[str], kind: str, *, scripting_block: bool = False
) -> Definition:
    """The definition a ``CREATE … PROCEDURE|FUNCTION name(`` statement gives; ``match`` ends at the argument
    list's parenthesis and names the object ``name``; ``kind`` ("procedure", "function") names it in errors;
    ``scripting_block``: LANGUAGE SQL with a Snowflake Scripting body is served too (procedures)."""
    arguments_text, rest = scripting_tokens.parenthesised(statement.text, match.end() - 1)
    database, schema, name = resolve_name(match["name"], statement.session)
    body, header = _body(rest)
    clauses = {k: (m[1] if (m := p.search(header)) else None) for k, p in _CLAUSES.items()}
    language = (clauses["language"] or "SQL").upper()
    if language != "PYTHON" and not (scripting_block and language == "SQL"):
        served = "Python handlers and Snowflake Scripting" if scripting_block else "Python handlers"
        written = "LANGUAGE PYTHON or SQL" if scripting_block else "LANGUAGE PYTHON"
        raise statements.unsupported(
            f"{kind} {name} is written in {language}: on Snowflake it runs in that language's runtime; the "
            f"simulator runs {served} only — write it as {written}"
        )
    if language == "SQL" and body is None and (block := _BARE_BLOCK.search(rest)) is not None:
        body, header = block["block"], rest[: block.start()]  # AS BEGIN … END without $$ (Snowsight's form)
    returns = _RETURNS.search(header)
    if returns is None:
        raise statements.SqlError(
            f"SQL compilation error: {kind} {name} has no RETURNS clause", 1003, "42000"
        )
    if language == "SQL" and body is None:
        raise statements.SqlError(
            f"SQL compilation error: {kind} {name} LANGUAGE SQL has no AS $$<block>$$ body", 1003, "42000"
        )
    if clauses["handler"] is None and language == "PYTHON":
        raise statements.SqlError(f"SQL compilation error: {kind} {name} needs HANDLER='…'", 1003, "42000")
    imports = tuple(_strings(clauses["imports"]))
    if body is None and not imports:
        raise statements.SqlError(
            f"SQL compilation error: {kind} {name} has neither an AS $$…$$ body nor IMPORTS for its handler",
            1003,
            "42000",
        )
    packages = tuple(_strings(clauses["packages"]))
    _check_packages(f"{kind} {name}", packages)
    return Definition(
        database=database,
        schema=schema,
        name=name,
        arguments=tuple(_argument_names(arguments_text)),
        argument_types=tuple(_argument_types(arguments_text)),
        returns=" ".join(returns["type"].upper().split()),
        handler=clauses["handler"] or "",
        code=body,
        imports=imports,
        packages=packages,
        header=header,
        language=language,
    )


def create_procedure(statement: statements.Statement) -> str | None:
    """``CREATE [OR REPLACE] [TEMPORARY] PROCEDURE`` of a Python handler: kept, answered as Snowflake does."""
    match = _CREATE.match(statement.text)
    if match is None:
        return None
    definition = read_definition(statement, match, "procedure", scripting_block=True)
    name = definition.name
    if definition.returns == "TABLE" and definition.language == "PYTHON":
        raise statements.unsupported(
            f"procedure {name} RETURNS TABLE(…): on Snowflake CALL returns the rows of the DataFrame it returns; "
            "the simulator's procedures return one value — return a scalar or VARIANT, or write the rows to a table"
        )
    execute_as = _CLAUSES["execute_as"].search(definition.header)
    procedure = Procedure(
        **definition.stored(),
        execute_as=" ".join((execute_as[1] if execute_as else "OWNER").upper().split()),
        language=definition.language,
    )
    replace, exists = bool(match["replace"]), bool(match["exists"])
    if match["temporary"]:
        kept = statement.session.procedures
        if procedure.key in kept and not (replace or exists):
            raise already_exists(procedure.qualified)
        if not (exists and procedure.key in kept):
            kept[procedure.key] = procedure
    else:
        store(
            statement.session,
            TABLE,
            procedure.key,
            procedure.to_json(),
            replace=replace,
            if_not_exists=exists,
        )
    return status(f"Procedure {name} successfully created.")


def call_procedure(statement: statements.Statement) -> str | None:
    """``CALL name(args)`` of a stored procedure: its one row, the column named after the procedure."""
    match = _CALL.match(statement.text)
    if match is None or match["name"].upper().startswith("SYSTEM$"):
        return None
    arguments, rest = scripting_tokens.parenthesised(statement.text, match.end() - 1)
    if rest.strip().rstrip(";").strip():
        return None  # CALL … INTO, or more: not a form this rule serves
    if "=>" in arguments:
        raise statements.unsupported(
            f"{statements.short(statement.text)!r}: named arguments (name => value); pass them by position"
        )
    values = scripting_tokens.split(arguments)
    procedure = _find(statement.session, match["name"], len(values))
    if procedure.language == "SQL":
        return _run_block(procedure, values, statement.session)
    value = _run(procedure, values, statement.session)
    return exp.select(_returned(value, procedure.returns).as_(procedure.name, quoted=True)).sql(
        dialect="snowflake"
    )


def describe_procedure(statement: statements.Statement) -> str | None:
    """``DESCRIBE PROCEDURE name(TYPE, …)``: the procedure's properties, one row each (docs: sql/desc-procedure).
    Snowpark's ``session.call`` reads the second row, ``returns``, to tell a table procedure from a scalar one
    (snowflake/snowpark/session.py ``_infer_is_return_table``); ``sproc.describe`` sends it too."""
    match = _DESCRIBE.match(statement.text)
    if match is None:
        return None
    types, rest = scripting_tokens.parenthesised(statement.text, match.end() - 1)
    if rest.strip().rstrip(";").strip():
        return None
    procedure = _find(statement.session, match["name"], len(scripting_tokens.split(types)))
    kinds = procedure.argument_types or ("",) * len(procedure.arguments)
    signature = ", ".join(
        f"{name} {kind}".rstrip() for name, kind in zip(procedure.arguments, kinds, strict=True)
    )
    properties = (
        ("signature", f"({signature})"),
        ("returns", procedure.returns),
        ("language", procedure.language),
        ("execute as", procedure.execute_as),
        ("handler", procedure.handler),
        ("packages", json.dumps(list(procedure.packages))),
        ("imports", json.dumps(list(procedure.imports))),
        ("body", procedure.code or ""),
    )
    # DESCRIBE's columns are lower-case, quoted (docs: sql/desc-procedure, Output)
    columns = (exp.column("P").as_("property", quoted=True), exp.column("V").as_("value", quoted=True))
    values = exp.values(list(properties), alias="D", columns=["P", "V"])
    return exp.select(*columns).from_(values).sql(dialect="snowflake")


_SCOPED = re.compile(r"^(\s*CREATE\s+(?:OR\s+REPLACE\s+)?)SCOPED\s+(?=TEMP(?:ORARY)?\s)", re.IGNORECASE)


def scoped_temporary(statement: statements.Statement) -> str | None:
    """``CREATE SCOPED TEMPORARY STAGE|TABLE …``: a temporary object, which fakesnow's parser refuses at "SCOPED".
    Snowpark names its session stage so before registering a procedure (snowflake/snowpark/session.py
    ``get_session_stage``); scoped to a procedure's session on Snowflake, to the session here."""
    replaced = _SCOPED.sub(r"\1", statement.text, count=1)
    return replaced if replaced != statement.text else None


def packages_table(statement: statements.Statement) -> str | None:
    """``INFORMATION_SCHEMA.PACKAGES`` (docs: info-schema/packages) as the Python packages installed here:
    what a procedure's PACKAGES can name in the simulator."""
    if "PACKAGES" not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    changed = False
    for table in list(parsed.find_all(exp.Table)):
        if table.name.upper() == "PACKAGES" and table.db.upper() == "INFORMATION_SCHEMA":
            alias = table.alias or "PACKAGES"
            table.replace(_installed_packages().subquery(alias))
            changed = True
    return parsed.sql(dialect="snowflake") if changed else None


def _installed_packages() -> exp.Select:
    rows = sorted(
        {
            (_package_name(d.metadata["Name"]), d.version)
            for d in importlib.metadata.distributions()
            if d.metadata["Name"]
        }
    )
    values = exp.values(
        [(name, version, "python") for name, version in rows],
        alias="P",
        columns=["PACKAGE_NAME", "VERSION", "LANGUAGE"],
    )
    return exp.select("*").from_(values)


def _package_name(name: str) -> str:
    return re.sub(
        r"[-_.]+", "-", name
    ).lower()  # PEP 503 normalised, as Snowflake's Anaconda channel names them


def _check_packages(owner: str, packages: tuple[str, ...]) -> None:
    installed = {
        _package_name(d.metadata["Name"]) for d in importlib.metadata.distributions() if d.metadata["Name"]
    }
    for package in packages:
        name = _package_name(re.split(r"[=<>!~\s\[]", package.strip(), maxsplit=1)[0])
        if name not in installed:
            raise statements.SqlError(
                f"SQL compilation error: {owner}: package {package!r} is not installed in the "
                "simulator's Python environment (on Snowflake it comes from the Anaconda channel); install it "
                "there or drop it from PACKAGES",
                1003,
                "42000",
            )


def _run(procedure: Procedure, arguments: list[str], state: statements.SessionState) -> Any:
    if state.account is None or state.open_session is None:
        raise statements.SqlError(
            "CALL needs a session of a simulator account", statements.PROCEDURE_ERROR_CODE, "P0000"
        )
    session = state.open_session()
    try:
        session.use_schema(f"{_quoted(procedure.database)}.{_quoted(procedure.schema)}")
        values = list(session.sql(f"select {', '.join(arguments)}").collect()[0]) if arguments else []
        handler = load_handler(procedure, "procedure")
        try:
            return handler(session, *values)
        except Exception as exc:  # the handler's own error is the CALL's error, as on Snowflake
            raise statements.SqlError(
                f"Python Interpreter Error:\n{type(exc).__name__}: {exc} in function {procedure.name} with "
                f"handler {procedure.handler}",
                statements.PROCEDURE_ERROR_CODE,
                "P0000",
            ) from exc
    finally:
        session.close()
        # Session() registers its close at interpreter exit and close() leaves it registered (session.py
        # ``_close_at_exit``), so each call's session would be kept alive until exit
        atexit.unregister(session._close_at_exit)


class HandlerCode(Protocol):
    """Where a procedure's or a UDF's handler comes from: its inline code or its IMPORTS."""

    @property
    def database(self) -> str: ...
    @property
    def schema(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def handler(self) -> str: ...
    @property
    def code(self) -> str | None: ...
    @property
    def imports(self) -> tuple[str, ...]: ...


def load_handler(source: HandlerCode, kind: str) -> Callable[..., Any]:
    """The handler function: ``fn`` of the inline code, or ``module.fn`` of an imported file (Snowpark names
    ``compute`` of its inline code, or ``udf_py_….compute`` of the zip it PUT when the code is large:
    snowflake/snowpark/_internal/udf_utils.py ``resolve_imports_and_packages``). ``kind`` names it in errors."""
    module_name, _, function = source.handler.rpartition(".")
    if source.code is not None and not module_name:
        qualified = ".".join(_quoted(p) for p in (source.database, source.schema, source.name))
        namespace: dict[str, Any] = {"__name__": f"{kind}_{source.name.lower()}"}
        exec(compile(source.code, f"<{kind} {qualified}>", "exec"), namespace)
        found = namespace.get(function)
    else:
        found = getattr(_imported_module(source, kind, module_name or function), function, None)
    if not callable(found):  # also None: the handler is missing
        raise statements.SqlError(
            f"Python Interpreter Error: handler {source.handler!r} of {kind} {source.name} is not a "
            "function of its code",
            statements.PROCEDURE_ERROR_CODE,
            "P0000",
        )
    handler: Callable[..., Any] = found
    return handler


def _imported_module(source: HandlerCode, kind: str, module: str) -> types.ModuleType:
    """``module`` from the IMPORTS: a ``module.py`` file or a ``.zip`` archive holding it."""
    for imported in source.imports:
        path = _stage_file(imported, source, kind)
        if path.suffix == ".py" and path.stem == module:
            spec_module = types.ModuleType(module)
            spec_module.__file__ = str(path)
            exec(compile(path.read_text(), str(path), "exec"), spec_module.__dict__)
            return spec_module
        if path.suffix == ".zip":
            importer = zipimport.zipimporter(str(path))
            spec = importer.find_spec(module)
            if spec is not None and spec.loader is not None:
                loaded = types.ModuleType(module)
                loaded.__spec__, loaded.__loader__ = spec, spec.loader
                sys.modules.setdefault(module, loaded)  # what a pickled function's module lookup needs
                spec.loader.exec_module(loaded)
                return loaded
    raise statements.SqlError(
        f"Python Interpreter Error: handler module {module!r} of {kind} {source.name} is in none of its "
        f"IMPORTS {list(source.imports)}",
        statements.PROCEDURE_ERROR_CODE,
        "P0000",
    )


def _stage_file(imported: str, source: HandlerCode, kind: str) -> Path:
    """The local file of a stage path ``@[DB.SCHEMA.]STAGE/path`` (fakesnow/transforms/stage.py ``internal_dir``),
    unzipped when PUT compressed it."""
    from fakesnow.transforms.stage import internal_dir

    if not imported.startswith("@"):
        raise statements.unsupported(
            f"import {imported!r} of {kind} {source.name}: the simulator imports files of internal stages "
            "(@STAGE/path) only"
        )
    stage, _, inner = imported[1:].partition("/")
    parts = [_normal(p) for p in _split_name(stage)]
    qualified = [source.database, source.schema, *parts][-3:]
    path = Path(internal_dir(".".join(qualified), inner))
    if path.exists():
        return path
    packed = path.with_name(path.name + ".gz")
    if packed.exists():
        unpacked = Path(tempfile.mkdtemp(prefix=f"{kind}_import_")) / path.name
        with gzip.open(packed) as source_file, unpacked.open("wb") as target:
            shutil.copyfileobj(source_file, target)
        return unpacked
    raise statements.unsupported(
        f"import {imported!r} of {kind} {source.name}: no such file on the stage ({path}); PUT it there first"
    )


def _run_block(procedure: Procedure, arguments: list[str], state: statements.SessionState) -> str:
    """A LANGUAGE SQL procedure's block, run on the calling session with its arguments as variables; its value as
    CALL's one row, or the rows of its ``RETURN TABLE(resultset)``."""
    if state.sql is None:
        raise statements.SqlError(
            "CALL needs a session of a simulator account", statements.PROCEDURE_ERROR_CODE, "P0000"
        )
    values = [state.sql.scalar(argument) for argument in arguments]
    value = scripting.run(
        procedure.code or "", state.sql, dict(zip(procedure.arguments, values, strict=True))
    )
    if isinstance(value, scripting.ResultSet):
        return scripting.table_sql(value, state.sql)
    if procedure.returns == "TABLE":
        raise statements.SqlError(
            f"procedure {procedure.name} RETURNS TABLE but its block returned no RETURN TABLE(resultset)",
            statements.PROCEDURE_ERROR_CODE,
            "P0000",
        )
    return exp.select(_returned(value, procedure.returns).as_(procedure.name, quoted=True)).sql(
        dialect="snowflake"
    )


def _returned(value: Any, returns: str) -> exp.Expr:
    """The handler's value as the procedure's RETURNS type."""
    if value is None:
        return exp.cast(exp.null(), exp.DataType.build(returns, dialect="snowflake"))
    if returns.split("(", maxsplit=1)[0] in _JSON_TYPES:
        return exp.func("PARSE_JSON", exp.Literal.string(json.dumps(value, default=str)), dialect="snowflake")
    return exp.cast(literal(value), exp.DataType.build(returns, dialect="snowflake"))


def _find(state: statements.SessionState, name: str, arity: int) -> Procedure:
    key = (*resolve_name(name, state), arity)
    if key in state.procedures:
        return state.procedures[key]  # type: ignore[no-any-return]
    if (definition := stored(state, TABLE, key)) is not None:
        return Procedure.from_json(definition)
    raise statements.SqlError(
        f"SQL compilation error:\nUnknown user-defined procedure {'.'.join(_quoted(p) for p in key[:3])} with "
        f"{arity} argument(s)",
        UNKNOWN_CODE,
        "42601",
    )


def stored(state: statements.SessionState, table: str, key: tuple[str, str, str, int]) -> str | None:
    """The definition kept in the account's ``table`` (procedures', functions') under ``key``, if any."""
    if state.account is None:
        return None
    with state.account.cursor() as cur:
        cur.execute(_ddl(table))
        row = cur.execute(f"select DEFINITION from {table} where {_KEY}", list(key)).fetchone()
    return None if row is None else str(row[0])


def store(
    state: statements.SessionState,
    table: str,
    key: tuple[str, str, str, int],
    definition: str,
    *,
    replace: bool,
    if_not_exists: bool,
) -> bool:
    """Keep ``definition`` in the account's ``table`` under ``key``, as CREATE [OR REPLACE | … IF NOT EXISTS]
    does; False when IF NOT EXISTS kept the one there."""
    if state.account is None:
        raise statements.SqlError(
            "CREATE needs a session of a simulator account", statements.PROCEDURE_ERROR_CODE, "P0000"
        )
    with state.account.transaction() as cur:
        cur.execute(_ddl(table))
        exists = cur.execute(f"select count(*) from {table} where {_KEY}", list(key)).fetchone()
        if exists and exists[0]:
            if if_not_exists:
                return False
            if not replace:
                raise already_exists(".".join(_quoted(p) for p in key[:3]))
            cur.execute(f"delete from {table} where {_KEY}", list(key))
        cur.execute(f"insert into {table} values (?, ?, ?, ?, ?)", [*key, definition])
    return True


def already_exists(qualified: str) -> statements.SqlError:
    return statements.SqlError(f"SQL compilation error:\nObject '{qualified}' already exists.", 2002, "42710")


def resolve_name(name: str, state: statements.SessionState) -> tuple[str, str, str]:
    """``[[DB.]SCHEMA.]NAME`` (what ``QUALIFIED_NAME`` matches) as (database, schema, name), normalized, the
    session's current database and schema filling in what is left out (procedures and UDFs alike)."""
    parts = [_normal(p) for p in _split_name(name)]
    database, schema = state.location()
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        if database is None:
            raise statements.SqlError(
                f"SQL compilation error: {name}: this session has no current database", 90105, "22000"
            )
        return database, parts[0], parts[1]
    if database is None or schema is None:
        raise statements.SqlError(
            f"SQL compilation error: {name}: this session has no current schema; use a qualified name",
            90106,
            "22000",
        )
    return database, schema, parts[0]


def _split_name(name: str) -> list[str]:
    return re.findall(_NAME, name)


def _normal(part: str) -> str:
    return part[1:-1] if part.startswith('"') else part.upper()


def _quoted(part: str) -> str:
    return f'"{part}"'


def _argument_names(text: str) -> list[str]:
    return [_normal(part.split()[0]) for part in scripting_tokens.split(text)]


def _argument_types(text: str) -> list[str]:
    # ``name TYPE [DEFAULT …]``: the type as written, upper-cased
    return [
        " ".join(re.split(r"\s+DEFAULT\s", part.split(maxsplit=1)[1], flags=re.I)[0].upper().split())
        if len(part.split()) > 1
        else ""
        for part in scripting_tokens.split(text)
    ]


def _body(rest: str) -> tuple[str | None, str]:
    """The handler code after ``AS`` (``$$…$$`` or a '…' literal), and the clauses before it."""
    dollar = re.search(r"\bAS\s+\$\$", rest, re.IGNORECASE)
    if dollar is not None:
        end = rest.rfind("$$")
        if end < dollar.end():
            raise statements.SqlError(
                "SQL compilation error: the procedure's $$ body is not closed", 1003, "42000"
            )
        return rest[dollar.end() : end], rest[: dollar.start()]
    quoted = re.search(r"\bAS\s+'((?:[^']|'')*)'", rest, re.IGNORECASE | re.DOTALL)
    if quoted is not None:
        return quoted[1].replace("''", "'"), rest[: quoted.start()]
    return None, rest


def _strings(text: str | None) -> list[str]:
    return re.findall(r"'([^']*)'", text or "")


def status(message: str) -> str:
    return exp.select(exp.Literal.string(message).as_("status", quoted=True)).sql(dialect="snowflake")
