"""Snowflake's identifier rule that DuckDB does not keep: a quoted name must be matched exactly.

Snowflake stores an unquoted name upper-case and a quoted one as written, and resolves a reference the same way
(https://docs.snowflake.com/en/sql-reference/identifiers-syntax): after ``CREATE TABLE "Mixed" …``, ``FROM Mixed``
names ``MIXED`` and fails. DuckDB matches table names case-insensitively, so fakesnow would find ``"Mixed"`` —
more permissive than Snowflake, hiding a failure that production would show. This check refuses such a reference
the way Snowflake does (002003, "does not exist or not authorized").
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from adapters.simulator.sql.statements import SqlError

NOT_FOUND_CODE = 2003  # Snowflake's "Object does not exist or not authorized" (SQL state 42S02)


def _resolved(part: exp.Expr | None) -> str | None:
    if not isinstance(part, exp.Identifier):
        return None
    name = str(part.this)
    return name if part.quoted else name.upper()


def check_exact_names(parsed: exp.Expr | None, duck: Any, database: str | None, schema: str | None) -> None:
    """Raise Snowflake's not-found error for a table reference that matches an existing table only by case."""
    if parsed is None or isinstance(parsed, exp.Create):  # a CREATE names a new object
        return
    ctes = {cte.alias_or_name.upper() for cte in parsed.find_all(exp.CTE)}
    for table in parsed.find_all(exp.Table):
        name = _resolved(table.this)
        if name is None or (not table.args.get("db") and name.upper() in ctes):
            continue
        db = _resolved(table.args.get("catalog")) or database
        sc = _resolved(table.args.get("db")) or schema
        if db is None or sc is None:
            continue
        found = duck.execute(
            "select table_name from information_schema.tables where upper(table_catalog) = upper(?) "
            "and upper(table_schema) = upper(?) and upper(table_name) = upper(?)",
            [db, sc, name],
        ).fetchall()
        if found and name not in {row[0] for row in found}:
            raise SqlError(
                f"Object '{db}.{sc}.{name}' does not exist or not authorized. (A quoted name is matched "
                f"exactly: the table is {', '.join(repr(row[0]) for row in found)}.)",
                NOT_FOUND_CODE,
                "42S02",
            )
