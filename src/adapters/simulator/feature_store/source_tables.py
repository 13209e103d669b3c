"""Source tables of the local account, with the last-altered time Snowflake keeps for every table.

Each table carries what ``INFORMATION_SCHEMA.TABLES`` would say of it (CREATED_ON, LAST_ALTERED, ROW_COUNT)
in its own DuckDB comment, written in the same transaction of its database as its rows: a load that stops
half way (a crash, a full disk) leaves the old rows with the old version or the new rows with the new one,
never a mix (DuckDB lets one transaction write one attached database, so a catalog row in the account file
could not travel with the rows). fakesnow keeps a Snowflake ``COMMENT`` in its own ``_fs_tables_ext`` table
(fakesnow/info_schema.py ``insert_table_comment_sql``), never in DuckDB's comment, so task SQL neither sees
nor overwrites this one. Homes from before keep the version in the account file's ``SIM_TABLES`` rows: they
are read while the table has no comment, and the next load replaces them. The data version of a table is
``vYYYYmmdd_HHMMSS`` of LAST_ALTERED; a reload always moves LAST_ALTERED forward by at least one second, so
new data never reuses an old version.

Loading validates everything first (columns present and well typed, not empty, no duplicate LOAN_ID+TS, labels
0/1, positive loan amounts; for setup also ``domain.features.check_source_rows``: enough loans, both classes,
finite amounts) and then writes the table in one transaction: bad input leaves nothing behind. Stored types:
LOAN_ID BIGINT, TS TIMESTAMP, names VARCHAR, amounts DOUBLE, the label INTEGER.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from adapters.simulator.account import table_times
from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.errors import USER_INPUT, translated
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import (
    ObjectName,
    ensure_database,
    ensure_schema,
    quote_ident,
    resolve_name,
    sql_string,
)
from domain.errors import AlreadyExists, InvalidData, NotFound
from domain.features import JOIN_KEY, LABEL_COL, SOURCE_AMOUNT_COLS, check_source_rows
from domain.names import version_from_timestamp

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "SNOWBANK"
DEFAULT_DATA_SCHEMA = "DATA"

# The guide's columns: name → (stored type, kind checked on load, required).
COLUMNS: dict[str, tuple[str, str, bool]] = {
    "LOAN_ID": ("BIGINT", "integer", True),
    "TS": ("TIMESTAMP", "timestamp", True),
    "LOAN_TYPE_NAME": ("VARCHAR", "text", False),
    "LOAN_PURPOSE_NAME": ("VARCHAR", "text", True),
    "COUNTY_NAME": ("VARCHAR", "text", True),
    "LOAN_AMOUNT_000s": ("DOUBLE", "amount", True),
    "APPLICANT_INCOME_000s": ("DOUBLE", "number", True),
    "MORTGAGERESPONSE": ("INTEGER", "label", True),
}
NOT_NULL = ("LOAN_ID", "TS", "MORTGAGERESPONSE")
_TEXT_TYPES = ("VARCHAR", "ENUM")

# Per kind: a SQL condition that is true for a bad non-NULL value of column {c}, and what a good value is.
_BAD_VALUE = {
    "integer": ("try_cast({c} as double) is null or try_cast({c} as double) % 1 <> 0",
                "a whole number"),
    "timestamp": ("try_cast({c} as timestamp) is null", "a timestamp like 'YYYY-MM-DD HH:MM:SS.fff'"),
    "amount": ("try_cast({c} as double) is null or try_cast({c} as double) <= 0",
               "a positive number (thousands of USD)"),
    "number": ("try_cast({c} as double) is null", "a number"),
    "label": ("try_cast({c} as double) is null or try_cast({c} as double) not in (0, 1)", "0 or 1"),
}  # fmt: skip


@dataclass(frozen=True)
class TableInfo:
    """What ``describe_table`` reports: the table, its size and its last-altered time."""

    name: ObjectName
    row_count: int
    created_on: datetime
    last_altered: datetime

    @property
    def version(self) -> str:
        return version_from_timestamp(self.last_altered)


# The key of this module's record in a table's DuckDB comment (a comment someone else wrote is not ours).
_COMMENT_KEY = "sim_table"
_LEGACY_CATALOG = "SIM_TABLES"  # homes from before the version travelled with the rows


def find_table(cur: duckdb.DuckDBPyConnection, table: ObjectName) -> TableInfo | None:
    """The table's size and times, or None when it does not exist or was not loaded by this module."""
    row = cur.execute(
        "select comment from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ?",
        [table.database, table.schema, table.name],
    ).fetchone()
    if row is None:
        return None
    try:
        record = json.loads(row[0] or "{}")[_COMMENT_KEY]
        return TableInfo(
            table,
            int(record["row_count"]),
            datetime.fromisoformat(record["created_on"]),
            datetime.fromisoformat(record["last_altered"]),
        )
    except (ValueError, TypeError, KeyError):
        return _legacy_row(cur, table)


def _legacy_row(cur: duckdb.DuckDBPyConnection, table: ObjectName) -> TableInfo | None:
    if not cur.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() and "
        "schema_name = 'main' and table_name = ?",
        [_LEGACY_CATALOG],
    ).fetchone()[0]:
        return None
    row = cur.execute(
        f"select ROW_COUNT, CREATED_ON, LAST_ALTERED from {_LEGACY_CATALOG} "
        "where DATABASE_NAME = ? and SCHEMA_NAME = ? and TABLE_NAME = ?",
        [table.database, table.schema, table.name],
    ).fetchone()
    return None if row is None else TableInfo(table, int(row[0]), row[1], row[2])


def _drop_legacy_row(cur: duckdb.DuckDBPyConnection, table: ObjectName) -> None:
    """After a load the comment is what counts; the old catalog row goes, and the catalog with its last row."""
    if _legacy_row(cur, table) is None:
        return
    cur.execute(
        f"delete from {_LEGACY_CATALOG} where DATABASE_NAME = ? and SCHEMA_NAME = ? and TABLE_NAME = ?",
        [table.database, table.schema, table.name],
    )
    if not cur.execute(f"select count(*) from {_LEGACY_CATALOG}").fetchone()[0]:
        cur.execute(f"drop table {_LEGACY_CATALOG}")


def describe_table(
    account: LocalAccount, name: str, *, database: str = DEFAULT_DATABASE, schema: str = DEFAULT_DATA_SCHEMA
) -> TableInfo:
    """The table's catalog row; ``NotFound`` when it does not exist."""
    table = resolve_name(name, database=database, schema=schema)
    with translated(f"describing table {table}"), account.cursor() as cur:
        info = find_table(cur, table)
    if info is None:
        raise NotFound(f"table {table} does not exist (load it with `python -m app setup`)")
    return info


def load_source_table(
    account: LocalAccount,
    name: str,
    frame: pd.DataFrame,
    *,
    database: str = DEFAULT_DATABASE,
    schema: str = DEFAULT_DATA_SCHEMA,
    replace: bool = False,
    pipeline_rules: bool = False,
    origin: Mapping[str, str] | None = None,
) -> TableInfo:
    """Validate ``frame`` (the guide's columns, any case) and store it as the table ``name``.

    The database and schema are created if missing. An existing table raises ``AlreadyExists`` unless
    ``replace``; replacing moves its last-altered time (and so its data version) forward. ``pipeline_rules``
    also applies ``check_source_rows`` (what a pipeline run needs; setup asks for it, small fixtures do not);
    ``origin`` (where the rows came from) is kept with them.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidData(f"expected a pandas DataFrame for table {name!r}, got {type(frame).__name__}")
    table = resolve_name(name, database=database, schema=schema)
    with account.cursor() as cur, _incoming(cur, lambda view: cur.register(view, frame)) as view:
        return _store(account, cur, table, view, replace, pipeline_rules, origin)


def load_source_file(
    account: LocalAccount,
    name: str,
    path: Path,
    *,
    database: str = DEFAULT_DATABASE,
    schema: str = DEFAULT_DATA_SCHEMA,
    replace: bool = False,
    pipeline_rules: bool = False,
    origin: Mapping[str, str] | None = None,
) -> TableInfo:
    """Like ``load_source_table`` from a CSV (``.csv``, ``.csv.gz``, ``.csv.zip``) or Parquet file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidData(f"data file {path} does not exist or is not a file")
    suffixes = "".join(path.suffixes[-2:]).lower()
    table = resolve_name(name, database=database, schema=schema)
    with account.cursor() as cur:
        if suffixes.endswith((".parquet", ".pq")):
            register = lambda view: cur.read_parquet(str(path)).create_view(view)  # noqa: E731
        elif suffixes.endswith(
            ".zip"
        ):  # the guide ships MORTGAGE_LENDING_DEMO_DATA.csv.zip; DuckDB reads no zip
            register = lambda view: cur.register(view, pd.read_csv(path))  # noqa: E731
        elif suffixes.endswith((".csv", ".csv.gz")):
            register = lambda view: cur.read_csv(str(path)).create_view(view)  # noqa: E731
        else:
            raise InvalidData(f"data file {path}: expected a .csv, .csv.gz, .csv.zip or .parquet file")
        doing = f"data file {path} could not be read"
        try:
            with translated(doing, USER_INPUT), _incoming(cur, register) as view:
                return _store(account, cur, table, view, replace, pipeline_rules, origin)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:  # pandas reads the zipped CSV
            raise InvalidData(f"{doing}: {exc}") from exc
        except InvalidData as exc:
            problem = _csv_line_problem(exc.__cause__)
            if problem is None:
                raise
            raise InvalidData(f"{doing}: {problem}") from exc.__cause__


# DuckDB's CSV reader reports a bad line with advice for its own read_csv options (types={...},
# sample_size=-1, strict_mode=false), which the user cannot pass: keep what is wrong and where, and say instead
# what the user can change: the file.
_CSV_LINE = re.compile(
    r"CSV Error on Line: (?P<line>\d+)\s*\nOriginal Line: (?P<text>[^\n]*)\n(?P<problem>[^\n]*)"
)
_CSV_CONVERSION = re.compile(
    r'Error when converting column "(?P<column>[^"]+)"\. Could not convert string "(?P<value>.*)" '
    r"to '(?P<type>[^']+)'"
)
_CSV_COLUMNS = re.compile(r"Expected Number of Columns: (?P<expected>\d+) Found: (?P<found>\d+)")


def _csv_line_problem(cause: BaseException | None) -> str | None:
    """What is wrong with which line of a CSV file, and the fix, from a DuckDB CSV error (else None)."""
    found = _CSV_LINE.search(str(cause)) if isinstance(cause, duckdb.Error) else None
    if found is None:
        return None
    problem = found["problem"].strip()
    if conversion := _CSV_CONVERSION.search(problem):
        problem = (
            f"column {conversion['column']} holds {conversion['value']!r}, which is not a "
            f"{conversion['type']} like the values on the lines before it"
        )
    elif columns := _CSV_COLUMNS.search(problem):
        problem = f"it has {columns['found']} values where the header has {columns['expected']} columns"
    return (
        f"line {found['line']} ({found['text'][:200]!r}): {problem}; correct or remove that line (every value "
        "of a column must be of one type, every line must have one value per header column) and load the "
        "file again"
    )


@contextmanager
def _incoming(cur: duckdb.DuckDBPyConnection, register: object) -> Iterator[str]:
    """A temporary view over the input, dropped afterwards."""
    view = "SIM_INCOMING_ROWS"
    register(view)  # type: ignore[operator]
    try:
        yield view
    finally:
        cur.execute(f"drop view if exists {view}")
        cur.unregister(view)


def _store(
    account: LocalAccount,
    cur: duckdb.DuckDBPyConnection,
    table: ObjectName,
    view: str,
    replace: bool,
    pipeline_rules: bool,
    origin: Mapping[str, str] | None,
) -> TableInfo:
    with translated(f"checking the data for table {table}"):
        columns = _validate(cur, table, view)
        if pipeline_rules:
            _check_rows(cur, table, view, columns)
    select = ", ".join(
        f"cast({quote_ident(columns[c])} as {sql_type}) as {quote_ident(c)}"
        if c in columns
        else f"cast(null as {sql_type}) as {quote_ident(c)}"
        for c, (sql_type, _, _) in COLUMNS.items()
    )
    with translated(f"loading table {table}"):
        previous = find_table(cur, table)
        if previous is not None and not replace:
            raise AlreadyExists(f"table {table} exists already; replace it to load new data")
        ensure_database(account, cur, table.database)  # idempotent, each commits on its own
        ensure_schema(cur, table.database, table.schema)
        now = catalog_now().replace(microsecond=0)
        if previous is not None:  # a reload is a new data version, even within the same second
            now = max(now, previous.last_altered + timedelta(seconds=1))
        created = previous.created_on if previous is not None else now
        # the user database's transaction: old rows and version, or new ones; never a mix
        cur.execute("begin transaction")
        try:
            cur.execute(f"create or replace table {table.duck} as select {select} from {view}")
            rows = int(cur.execute(f"select count(*) from {table.duck}").fetchone()[0])
            record = {
                "created_on": created.isoformat(),
                "last_altered": now.isoformat(),
                "row_count": rows,
                "origin": dict(origin or {}),
            }
            cur.execute(f"comment on table {table.duck} is {sql_string(json.dumps({_COMMENT_KEY: record}))}")
            # INFORMATION_SCHEMA.TABLES' times, committed with the rows (account/table_times.py)
            table_times.created(cur, table.database, table.schema, table.name, now)
        except BaseException:
            cur.execute("rollback")
            raise
        cur.execute("commit")
    try:
        _drop_legacy_row(cur, table)
    except duckdb.Error as exc:  # the comment already wins over the old row; the next load retries
        log.warning("the old catalog row of table %s was not removed: %s", table, exc)
    return TableInfo(table, rows, created, now)


def _validate(cur: duckdb.DuckDBPyConnection, table: ObjectName, view: str) -> dict[str, str]:
    """Check the input; returns guide column → input column. Raises ``InvalidData`` naming the problem."""
    described = cur.execute(f"describe {view}").fetchall()
    by_upper = {str(col).upper(): (str(col), str(col_type)) for col, col_type, *_ in described}
    missing = [c for c, (_, _, required) in COLUMNS.items() if required and c.upper() not in by_upper]
    if missing:
        raise InvalidData(
            f"table {table}: missing column(s) {', '.join(missing)}; the guide's columns are "
            f"{', '.join(COLUMNS)} (LOAN_TYPE_NAME optional); got {', '.join(c for c, _ in by_upper.values())}"
        )
    columns = {c: by_upper[c.upper()][0] for c in COLUMNS if c.upper() in by_upper}
    total = int(cur.execute(f"select count(*) from {view}").fetchone()[0])
    if total == 0:
        raise InvalidData(f"table {table}: the input has no rows")
    for c, source in columns.items():
        kind = COLUMNS[c][1]
        col = quote_ident(source)
        source_type = by_upper[c.upper()][1]
        if kind == "text":
            if not source_type.startswith(_TEXT_TYPES) and source_type != '"NULL"':
                raise InvalidData(f"table {table}: column {c} must hold text, got type {source_type}")
            continue
        bad_sql, expected = _BAD_VALUE[kind]
        bad, example = cur.execute(
            f"select count(*), any_value(cast({col} as varchar)) from {view} "
            f"where {col} is not null and ({bad_sql.format(c=col)})"
        ).fetchone()
        if bad:
            raise InvalidData(
                f"table {table}: column {c} must be {expected}; {bad} row(s) are not, e.g. {example!r}"
            )
    for c in NOT_NULL:
        nulls = cur.execute(
            f"select count(*) from {view} where {quote_ident(columns[c])} is null"
        ).fetchone()[0]
        if nulls:
            raise InvalidData(f"table {table}: column {c} must not be NULL; {nulls} row(s) are")
    key, ts = quote_ident(columns["LOAN_ID"]), quote_ident(columns["TS"])
    dup = cur.execute(
        f"select cast({key} as bigint), cast({ts} as timestamp), count(*) from {view} "
        f"group by all having count(*) > 1 limit 1"
    ).fetchone()
    if dup:
        raise InvalidData(
            f"table {table}: duplicate LOAN_ID+TS rows, e.g. LOAN_ID={dup[0]} TS={dup[1]} "
            f"appears {dup[2]} times"
        )
    return columns


def _check_rows(
    cur: duckdb.DuckDBPyConnection, table: ObjectName, view: str, columns: dict[str, str]
) -> None:
    key, label = quote_ident(columns[JOIN_KEY]), quote_ident(columns[LABEL_COL])
    amounts = ", ".join(
        f"coalesce(cast({quote_ident(columns[c])} as double), 'NaN'::double) as {quote_ident(c)}"
        for c in SOURCE_AMOUNT_COLS
    )
    check_source_rows(
        cur.execute(
            f"select cast({key} as bigint) as {JOIN_KEY}, cast({label} as integer) as {LABEL_COL}, {amounts} "
            f"from {view}"
        ).fetchnumpy(),
        f"table {table}",
    )
