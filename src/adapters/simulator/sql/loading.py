"""Loading staged files into tables: the statement rules ``write_pandas`` and ``create_dataframe(pandas_df)`` need.

The connector's ``write_pandas`` (snowflake/connector/pandas_tools.py, which Snowpark's ``Session.write_pandas`` and
``Session.create_dataframe`` of a pandas frame call) stages the frame as Parquet, asks
``SELECT COLUMN_NAME, TYPE FROM table(infer_schema(location=>?, file_format=>?))`` for its columns, creates the
table and loads it with ``COPY INTO … FROM (SELECT $1:"A"::TYPE … FROM '@stage')``. fakesnow has neither
INFER_SCHEMA nor a quoted stage in a COPY's subquery (fakesnow/copy_into.py ``_from_source`` answers
"invalid URL prefix", 001011); these rules serve both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from adapters.simulator.sql.stages import stage_folder

if TYPE_CHECKING:
    from adapters.simulator.sql.statements import Statement

# the table function as write_pandas sends it; its arguments are bound (?) or literals (docs: infer-schema)
_INFER_SCHEMA = re.compile(
    r"\btable\s*\(\s*infer_schema\s*\(\s*location\s*=>\s*(?P<location>\?|'[^']*')\s*,"
    r"\s*file_format\s*=>\s*(?P<format>\?|'[^']*')\s*\)\s*\)",
    re.IGNORECASE,
)
# INFER_SCHEMA's output columns (docs: sql-reference/functions/infer_schema, "Output")
_COLUMNS = ("COLUMN_NAME", "TYPE", "NULLABLE", "EXPRESSION", "FILENAMES", "ORDER_ID")


def infer_schema(statement: Statement) -> str | None:
    """``TABLE(INFER_SCHEMA(LOCATION => '@stage', FILE_FORMAT => …))`` over the stage's Parquet files, from their
    schema (pyarrow), with Snowflake's documented columns, one row per column in file order."""
    match = _INFER_SCHEMA.search(statement.text)
    if match is None:
        return None
    arguments = iter(statement.params or ())
    location = next(arguments) if match["location"] == "?" else match["location"][1:-1]
    if not isinstance(location, str) or not location.startswith("@"):
        raise _error(f"INFER_SCHEMA location must be a stage ('@name[/path]'), got {location!r}")
    folder = stage_folder(location, statement.database, statement.schema)
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        raise _error(f"INFER_SCHEMA found no files in {location}: PUT the Parquet files there first", 2003)
    columns: dict[str, tuple[pa.Field, list[str]]] = {}
    for file in files:
        try:
            schema = pq.read_schema(file)
        except pa.ArrowInvalid as exc:
            raise _error(f"INFER_SCHEMA reads Parquet files only; {file.name} in {location}: {exc}") from exc
        for column in schema:
            columns.setdefault(column.name, (column, []))[1].append(file.relative_to(folder).as_posix())
    rows = [
        exp.select(
            *(
                value.as_(name, quoted=True)
                for name, value in zip(
                    _COLUMNS,
                    (
                        exp.Literal.string(column.name),
                        exp.Literal.string(snowflake_type(column.type)),
                        exp.Boolean(this=column.nullable),
                        exp.Literal.string(f'$1:"{column.name}"::{snowflake_type(column.type)}'),
                        exp.Literal.string(",".join(names)),
                        exp.Literal.number(order),
                    ),
                    strict=True,
                )
            )
        )
        for order, (column, names) in enumerate(columns.values())
    ]
    union: exp.Query = rows[0]
    for row in rows[1:]:
        union = exp.union(union, row, distinct=False)
    table = exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("_SF_INFER_SCHEMA")))
    return statement.text[: match.start()] + table.sql(dialect="snowflake") + statement.text[match.end() :]


def snowflake_type(arrow: pa.DataType) -> str:
    """The type INFER_SCHEMA reports for a Parquet column (docs: infer-schema, "Usage notes": NUMBER(38, 0) for
    integers, REAL for floating point, TEXT, BOOLEAN, DATE, TIMESTAMP_NTZ/TZ, BINARY; nested data as VARIANT)."""
    if pa.types.is_integer(arrow):
        return "NUMBER(38, 0)"
    if pa.types.is_floating(arrow):
        return "REAL"
    if pa.types.is_decimal(arrow):
        return f"NUMBER({arrow.precision}, {arrow.scale})"
    if pa.types.is_boolean(arrow):
        return "BOOLEAN"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "TEXT"
    if pa.types.is_date(arrow):
        return "DATE"
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMP_TZ" if arrow.tz else "TIMESTAMP_NTZ"
    if pa.types.is_time(arrow):
        return "TIME"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return "BINARY"
    return "VARIANT"


_QUOTED_COPY_SOURCE = re.compile(r"(\bFROM\s+)'(@(?:[^'\\]|\\.)+)'(\s*\))", re.IGNORECASE)


def copy_from_quoted_stage(statement: Statement) -> str | None:
    """``COPY INTO T FROM (SELECT … FROM '@stage')``, as write_pandas quotes its stage: the same stage unquoted,
    which fakesnow/copy_into.py ``_from_source`` reads as a stage (a quoted one is "invalid URL prefix")."""
    if not re.match(r"^\s*COPY\s+INTO\b", statement.text, re.IGNORECASE):
        return None
    replaced = _QUOTED_COPY_SOURCE.sub(
        lambda m: m[1] + m[2].replace("\\'", "'") + m[3], statement.text, count=1
    )
    return replaced if replaced != statement.text else None


def _error(message: str, code: int = 1003) -> Exception:
    from adapters.simulator.sql.statements import SqlError

    return SqlError(f"SQL compilation error:\n{message}", code, "42000" if code == 1003 else "02000")


_CREATE_TEMPORARY = re.compile(
    r"^(?P<create>\s*CREATE\s+(?:OR\s+REPLACE\s+)?)(?:LOCAL\s+|GLOBAL\s+)?(?:TEMP|TEMPORARY)\s+"
    r"(?P<rest>TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>identifier\(\s*\?\s*\)|\"[^\"]+\"(?:\.\"[^\"]+\")*|\S+))",
    re.IGNORECASE,
)


def qualified_temporary_table(statement: Statement) -> str | None:
    """``CREATE TEMPORARY TABLE db.schema.t``, as write_pandas(table_type="temporary") names the table Snowpark's
    ``create_dataframe(pandas_df)`` loads: DuckDB keeps temporary tables in its own ``temp`` catalog only
    ("TEMPORARY table names can *only* use the temp catalog") and fakesnow/transforms passes the name through.
    The table is made in its schema as a plain table, which the session drops when it ends (``SessionState``)
    — as Snowflake drops a temporary table; unlike Snowflake's, other sessions can see it meanwhile."""
    match = _CREATE_TEMPORARY.match(statement.text)
    if match is None:
        return None
    name = match["name"]
    if name.lower().replace(" ", "").startswith("identifier("):
        name = str(statement.params[0]) if statement.params else ""
    table = exp.to_table(name, dialect="snowflake")
    if not table.db:  # unqualified: DuckDB's temporary table serves it
        return None
    statement.session.temporary_tables.append(
        exp.table_(table.name, db=table.db, catalog=table.catalog or statement.database, quoted=True).sql(
            dialect="duckdb"
        )
    )
    return match["create"] + match["rest"] + statement.text[match.end() :]
