"""What the SQL server does to a statement before fakesnow sees it: one table of rules, applied in order.

A rule looks at the statement text (and its parse, when it has one) and returns the text to run instead, or
None when it does not apply. A rule may also answer with a Snowflake error (``SqlError``): statements the
simulator cannot honour fail with our named ``Unsupported`` text, never with a parser error.

The rules, most specific first:
- statements that need Snowflake services the simulator does not have (notebooks, container services) fail;
- ``CALL SYSTEM$…(…)`` and ``SYSTEM$…`` functions inside a query are evaluated by the running task's engine
  and replaced by their values (the engine, not DuckDB, owns return values, configs and runtime info);
- fakesnow gaps, each rewritten at the narrowest point (see the rule's comment for the fakesnow code);
- a Snowflake Scripting block is run by scripting.py, each of its statements through these same rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sqlglot import exp
from sqlglot.errors import SqlglotError

from adapters.simulator.sql import loading, result_scan, snowpark_forms, stages, udfs, unloading
from adapters.simulator.sql.statements import (
    PROCEDURE_ERROR_CODE,
    STATEMENT_EXECUTED,
    Rule,
    SessionState,
    SqlError,
    Statement,
    short,
    unsupported,
)
from adapters.simulator.sql.system import SystemFunctions, literal
from adapters.simulator.sql.taskgraph_sql import (
    described_table_functions,
    table_functions,
    task_statements,
)
from domain.errors import DomainError

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
            raise unsupported(f"{short(statement.text)!r}: {what}")
    return None


def _is_system_call(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.upper().startswith("SYSTEM$")


# SYSTEM$ functions of any session, task or not: Snowpark's Session.close() cancels the session's queries
# (snowflake/snowpark/session.py ``cancel_all``); a session's statements run one at a time here, so when the
# client can send this one, nothing of that session is running.
_SESSION_FUNCTIONS: dict[str, Callable[..., str]] = {
    "SYSTEM$CANCEL_ALL_QUERIES": lambda *_: "0 queries cancelled",
    # asked by sproc.register (snowflake/snowpark/session.py ``_get_default_artifact_repository``): the fallback
    "SYSTEM$GET_DEFAULT_PYTHON_ARTIFACT_REPOSITORY": lambda *_: (
        "snowflake.snowpark.anaconda_shared_repository"
    ),
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


_EXECUTE_IMMEDIATE = re.compile(
    r"^\s*EXECUTE\s+IMMEDIATE\s+(?P<body>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL
)


def _execute_immediate(statement: Statement) -> str | None:
    """``EXECUTE IMMEDIATE $$…$$`` / ``'…'`` of one statement runs that statement (docs: sql/execute-immediate).

    sqlglot parses it as a Command that fakesnow hands DuckDB unchanged (a parser error); a Snowflake Scripting
    block is run by the next rule (scripting.py); ``USING`` bind variables fail as Unsupported.
    """
    match = _EXECUTE_IMMEDIATE.match(statement.text)
    if match is None:
        return None
    body = match["body"]
    if body.startswith("$$") and body.endswith("$$") and len(body) >= 4:
        inner = body[2:-2]
    elif body.startswith("'"):
        from fakesnow.dialect import parse_one

        try:
            literal_body = parse_one(f"SELECT {body}")
        except SqlglotError:
            literal_body = None
        first = literal_body.expressions[0] if isinstance(literal_body, exp.Select) else None
        if not (isinstance(first, exp.Literal) and first.is_string):
            raise unsupported(f"{short(statement.text)!r}: {_IMMEDIATE_FORMS}")
        inner = first.this
    else:
        raise unsupported(f"{short(statement.text)!r}: {_IMMEDIATE_FORMS}")
    return inner.strip().rstrip(";").strip()


_IMMEDIATE_FORMS = (
    "the simulator runs EXECUTE IMMEDIATE of one statement given as $$…$$ or a '…' literal, without USING; "
    "on Snowflake this form (a variable, FROM a stage file, or bind variables) runs through Snowflake Scripting"
)


_USE_WAREHOUSE = re.compile(r'^\s*USE\s+WAREHOUSE\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s*;?\s*$', re.IGNORECASE)


def _warehouse(statement: Statement) -> str | None:
    """``USE WAREHOUSE`` kept by the session and ``CURRENT_WAREHOUSE()`` answered from it (fakesnow has no such
    function; Snowpark's ``get_current_warehouse`` sends ``select current_warehouse()``). The simulator has no
    warehouses to run on, so any name is accepted, as a warehouse of the account would be."""
    if match := _USE_WAREHOUSE.match(statement.text):
        name = match[1]
        statement.session.warehouse = name[1:-1].replace('""', '"') if name.startswith('"') else name.upper()
        return STATEMENT_EXECUTED
    if "CURRENT_WAREHOUSE" not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    warehouse = statement.session.warehouse
    value = exp.null() if warehouse is None else exp.Literal.string(warehouse)
    return parsed.transform(lambda n: value.copy() if isinstance(n, exp.CurrentWarehouse) else n).sql(
        dialect="snowflake"
    )


def _query_tag(statement: Statement) -> str | None:
    """``ALTER SESSION SET/UNSET QUERY_TAG`` and ``SHOW PARAMETERS LIKE 'QUERY_TAG'`` on the session's own tag.

    fakesnow/transforms/transforms.py ``alter_session`` raises "not implemented" for QUERY_TAG, which
    Snowpark's ``Session.query_tag`` setter sends (snowflake/snowpark/session.py) and ``append_query_tag`` /
    ``update_query_tag`` read back with SHOW PARAMETERS (``_get_remote_query_tag``).
    """
    upper = statement.text.upper()
    if "QUERY_TAG" not in upper:
        return None
    if _SHOW_QUERY_TAG.match(statement.text):
        # the columns of SHOW PARAMETERS (docs: sql/show-parameters)
        row = exp.select(
            *(
                exp.Literal.string(v).as_(k, quoted=True)
                for k, v in (
                    ("key", "QUERY_TAG"),
                    ("value", statement.session.query_tag),
                    ("default", ""),
                    ("level", "SESSION" if statement.session.query_tag else ""),
                    (
                        "description",
                        "String (up to 4000 characters) used to tag statements executed by the session",
                    ),
                    ("type", "STRING"),
                )
            )
        )
        return row.sql(dialect="snowflake")
    parsed = statement.parsed()
    alter = (
        parsed.find(exp.AlterSession) if isinstance(parsed, exp.Alter) and parsed.kind == "SESSION" else None
    )
    items = alter.args.get("expressions") or [] if alter is not None else []
    if len(items) != 1 or not isinstance(items[0], exp.SetItem):
        return None
    item = items[0].this
    if alter is not None and alter.args.get("unset") and isinstance(item, exp.Identifier):
        if item.name.upper() != "QUERY_TAG":
            return None
        statement.session.query_tag = ""
    elif isinstance(item, exp.EQ) and item.this.name.upper() == "QUERY_TAG":
        value = item.expression
        if not (isinstance(value, exp.Literal) and value.is_string):
            raise SqlError(
                f"SQL compilation error: QUERY_TAG must be a string literal, got {value.sql(dialect='snowflake')}",
                1003,
                "42000",
            )
        statement.session.query_tag = value.this
    else:
        return None
    return STATEMENT_EXECUTED


_SHOW_QUERY_TAG = re.compile(r"^\s*SHOW\s+PARAMETERS\s+LIKE\s+'QUERY_TAG'(\s+IN\s+SESSION)?\s*;?\s*$", re.I)


def _positional_values_columns(statement: Statement) -> str | None:
    """``$1, $2 …`` over ``FROM VALUES (…)`` name the VALUES' columns, as Snowpark's ``create_dataframe`` sends.

    fakesnow has no transform for positional column references: sqlglot keeps ``$1`` as a Parameter, which
    DuckDB reads as a prepared-statement parameter ("Values were not provided for the following parameters"),
    both when running and when describing (fakesnow/cursor.py ``_describe_only``). They become the columns that
    fakesnow/transforms/transforms.py ``values_columns`` names ``"COLUMN1"…`` (or the VALUES alias's columns).
    """
    if "$" not in statement.text:
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    changed = False
    for select in list(parsed.find_all(exp.Select)):
        source = select.args.get("from_")
        values = source.this if isinstance(source, exp.From) else None
        if not isinstance(values, exp.Values) or (first := values.find(exp.Tuple)) is None:
            continue
        alias = values.args.get("alias")
        names = [c.name for c in alias.columns] if alias is not None and alias.columns else None
        width = len(first.expressions)
        for parameter in list(select.find_all(exp.Parameter)):
            position = parameter.this
            if parameter.find_ancestor(exp.Select) is not select or not (
                isinstance(position, exp.Literal) and not position.is_string
            ):
                continue
            index = int(position.this)
            if not 1 <= index <= width:
                raise SqlError(
                    f"SQL compilation error: invalid column position ${index}: the VALUES clause has {width} "
                    "column(s)",
                    904,
                    "42000",
                )
            name = names[index - 1] if names else f"COLUMN{index}"
            parameter.replace(exp.column(name, quoted=True))
            changed = True
    return parsed.sql(dialect="snowflake") if changed else None


def _ctas_column_names(statement: Statement) -> str | None:
    """``CREATE TABLE T (A, B) AS SELECT …``: a column list without types names the query's columns.

    fakesnow/transforms/transforms.py ``create_table_as`` expects typed column definitions and fails an
    assertion on bare names; the query becomes a subquery whose alias names its columns (docs: create-table,
    "CREATE TABLE … AS SELECT": column names given without types).
    """
    if not re.match(r"^\s*CREATE\b", statement.text, re.IGNORECASE) or " AS " not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if not (
        isinstance(parsed, exp.Create) and parsed.kind == "TABLE" and isinstance(parsed.this, exp.Schema)
    ):
        return None
    names = parsed.this.expressions
    query = parsed.expression
    if not names or not all(isinstance(n, exp.Identifier) for n in names) or not isinstance(query, exp.Query):
        return None
    if (
        isinstance(query, exp.Select)
        and not any(isinstance(e, exp.Star) for e in query.expressions)
        and len(query.expressions) != len(names)
    ):
        raise SqlError("SQL compilation error:\nInvalid column definition list", 2026, "42601")
    renamed = exp.select("*").from_(
        exp.Subquery(
            this=query.unnest() if isinstance(query, exp.Subquery) else query,
            alias=exp.TableAlias(this=exp.to_identifier("_SF_CTAS"), columns=names),
        )
    )
    parsed.set("this", parsed.this.this)
    parsed.set("expression", renamed)
    return parsed.sql(dialect="snowflake")


_QUOTED_PUT_TARGET = re.compile(r"^(\s*PUT\s+(?:'[^']*'|\S+)\s+)'(@[^'\s]+)'", re.IGNORECASE)


def _put_target_unquoted(statement: Statement) -> str | None:
    """``PUT 'file://…' '@STAGE/path'``, as Snowpark's ``FileOperation.put`` quotes its target: fakesnow/transforms/
    stage.py ``put_stage`` takes the quoted text as the stage name ("'@ST' does not start with @"). A target
    without spaces or quotes means the same unquoted."""
    replaced = _QUOTED_PUT_TARGET.sub(r"\1\2", statement.text, count=1)
    return replaced if replaced != statement.text else None


# fakesnow gaps in statements a describe request sends too (fakesnow/server.py ``query_request``, describeOnly)
_DESCRIBED_GAPS: tuple[Rule, ...] = (
    _positional_values_columns,
    snowpark_forms.parenthesised_table_function,
    snowpark_forms.approx_percentile_of_accumulate,
)

from adapters.simulator.sql import procedures, scripting  # noqa: E402  (their rules use this module's errors)

RULES: tuple[Rule, ...] = (
    _execute_immediate,  # first: the statement it runs goes through the rules below
    scripting.block_statement,  # a block (also EXECUTE IMMEDIATE's): its statements run through all the rules
    _cannot_honour,
    procedures.create_procedure,  # before any rule reads the handler's code as SQL
    udfs.create_function,
    udfs.drop_function,
    procedures.packages_table,
    procedures.scoped_temporary,
    _query_tag,
    _warehouse,
    snowpark_forms.if_not_exists_after_name,  # before the rules that parse a CREATE
    _ctas_column_names,
    snowpark_forms.merge_source_alias,
    _put_target_unquoted,
    stages.remove_files,
    loading.qualified_temporary_table,
    loading.infer_schema,
    loading.copy_from_quoted_stage,
    unloading.unload,
    unloading.drop_file_format,
    unloading.read_staged,
    result_scan.last_query_id,  # before result_scan: RESULT_SCAN(LAST_QUERY_ID()) scans the id it names
    result_scan.result_scan,
    *_DESCRIBED_GAPS,
    _session_functions,
    _system_functions,
    procedures.call_procedure,  # after SYSTEM$ arguments have their values
    procedures.describe_procedure,
    udfs.call_function,
    table_functions,  # after _system_functions: their arguments may be SYSTEM$ calls
    task_statements,
)


def rewrite(
    text: str,
    functions: SystemFunctions | None,
    session: SessionState,
    params: Sequence[object] | None = None,
    where: tuple[str | None, str | None] = (None, None),
) -> str:
    """The statement to hand fakesnow instead of ``text`` (``text`` itself when no rule applies); ``where`` is the
    session's current database and schema."""
    for rule in RULES:
        replaced = rule(Statement(text, functions, session, params, *where))
        if replaced is not None:
            text = replaced
    return text


def describable(text: str) -> str:
    """``text`` as fakesnow can describe it, with its ``SYSTEM$`` calls as typed NULLs: describing a statement
    must not run them."""
    if scripting.is_block(text):  # describing must not run it: its one column, as a block returns it
        return scripting.DESCRIBED
    for rule in _DESCRIBED_GAPS:
        text = rule(Statement(text, None)) or text
    text = described_table_functions(text)
    if "SYSTEM$" not in text.upper():
        return text
    parsed = Statement(text, None).parsed()
    if parsed is None:
        return text
    return parsed.transform(
        lambda n: exp.cast(exp.null(), exp.DataType.build("VARCHAR")) if _is_system_call(n) else n
    ).sql(dialect="snowflake")
