"""``TABLE(RESULT_SCAN('query id'))`` anywhere in a query (docs: functions/result_scan), not only on its own.

fakesnow/transforms/transforms.py ``result_scan`` serves a top-level ``SELECT … FROM TABLE(RESULT_SCAN('id'))``
by handing back the cached result whole (fakesnow/cursor.py ``_execute``), whatever the query selects, and leaves
any other use to DuckDB, which cannot parse it. Snowpark lists a stage that way before it registers a procedure
(snowflake/snowpark/session.py ``_list_files_in_stage``: ``session.sql("ls @stage").select('"name"')`` sends
``SELECT "name" FROM (SELECT * FROM TABLE(RESULT_SCAN('id')))``). Here the cached result becomes a temporary table
of the session and the table function is replaced by it; only fakesnow's own form, ``SELECT *`` of the scan
alone, is left to fakesnow.

``LAST_QUERY_ID([num])`` (docs: functions/last_query_id), which fakesnow does not know, is the id of a statement
the session ran before this one: ``num`` > 0 counts from the session's first, < 0 back from its latest (default
-1). Describe-only requests (Snowpark's ``DataFrame.schema``) are not counted, so a query described before it
runs reads the same id both times. A position the session has not reached is NULL here.
"""

from __future__ import annotations

from sqlglot import exp

from adapters.simulator.sql.statements import SqlError, Statement, short, unsupported

_TABLE_PREFIX = "_SF_RESULT_SCAN_"
_NOT_FOUND_CODE = 709  # fakesnow/cursor.py ``_execute``: "Statement … not found", as Snowflake answers


def last_query_id(statement: Statement) -> str | None:
    if "LAST_QUERY_ID" not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    calls = [n for n in parsed.find_all(exp.Anonymous) if n.name.upper() == "LAST_QUERY_ID"]
    if not calls:
        return None
    session = statement.session.sql
    if session is None:
        raise unsupported(f"{short(statement.text)!r}: LAST_QUERY_ID needs a SQL session to run in")
    ids = session.query_ids()
    for call in calls:
        position = _position(call, statement)
        index = position - 1 if position > 0 else len(ids) + position
        found = position != 0 and 0 <= index < len(ids)
        call.replace(
            exp.Literal.string(ids[index]) if found else exp.cast(exp.null(), exp.DataType.build("VARCHAR"))
        )
    return _text(parsed)


def _position(call: exp.Anonymous, statement: Statement) -> int:
    if not call.expressions:
        return -1
    argument = call.expressions[0]
    negative = isinstance(argument, exp.Neg)
    number = argument.this if negative else argument
    if len(call.expressions) > 1 or not (isinstance(number, exp.Literal) and number.is_int):
        raise SqlError(
            f"SQL compilation error: {short(statement.text)!r}: LAST_QUERY_ID takes one integer, the statement's "
            f"position in the session (1 its first, -1 its latest), not {argument.sql(dialect='snowflake')}",
            1003,
            "42000",
        )
    return -int(number.this) if negative else int(number.this)


def result_scan(statement: Statement) -> str | None:
    if "RESULT_SCAN" not in statement.text.upper():
        return None
    parsed = statement.parsed()
    if parsed is None:
        return None
    scans = [
        node
        for node in parsed.find_all(exp.TableFromRows)
        if isinstance(node.this, exp.Anonymous) and node.this.name.upper() == "RESULT_SCAN"
    ]
    if not scans or _fakesnows_own_form(parsed, scans):
        return None
    session = statement.session.sql
    if session is None:
        raise unsupported(
            f"{short(statement.text)!r}: RESULT_SCAN inside a query needs a SQL session to run in"
        )
    for scan in scans:
        arguments = scan.this.expressions
        if len(arguments) != 1 or not (isinstance(arguments[0], exp.Literal) and arguments[0].is_string):
            raise unsupported(
                f"{short(statement.text)!r}: the simulator's RESULT_SCAN takes a query id literal "
                "(RESULT_SCAN('01b2…')) or LAST_QUERY_ID([num])"
            )
        query_id = arguments[0].this
        table = _TABLE_PREFIX + "".join(c if c.isalnum() else "_" for c in query_id).upper()
        if not session.result_table(query_id, table):
            raise SqlError(f"Statement {query_id} not found", _NOT_FOUND_CODE, "02000")
        alias = scan.args.get("alias")
        scan.replace(exp.Table(this=exp.to_identifier(table, quoted=True), alias=alias))
    return _text(parsed)


def _fakesnows_own_form(parsed: exp.Expr, scans: list[exp.TableFromRows]) -> bool:
    """``SELECT * FROM TABLE(RESULT_SCAN('id'))`` and nothing else: fakesnow answers it with the result's own
    column types."""
    source = parsed.args.get("from_")
    return (
        len(scans) == 1
        and isinstance(parsed, exp.Select)
        and isinstance(source, exp.From)
        and source.this is scans[0]
        and scans[0].args.get("alias") is None
        and len(parsed.expressions) == 1
        and isinstance(parsed.expressions[0], exp.Star)
        and {k for k, v in parsed.args.items() if v} == {"expressions", "from_"}
    )


def _text(parsed: exp.Expr) -> str:
    """``parsed`` as Snowflake SQL. A describe-only request reaches the rules as ``DESCRIBE <query>``
    (fakesnow/cursor.py ``_describe_only``), which sqlglot writes back as ``DESCRIBE TABLE <query>``: DuckDB
    then describes nothing, so the query is written back after a bare DESCRIBE."""
    if isinstance(parsed, exp.Describe) and isinstance(parsed.this, exp.Query):
        return f"DESCRIBE {parsed.this.sql(dialect='snowflake')}"
    return parsed.sql(dialect="snowflake")
