"""When each table of a Snowflake database was created and last altered, which DuckDB does not keep.

Snowflake's ``INFORMATION_SCHEMA.TABLES`` has ``CREATED`` and ``LAST_ALTERED``, "the last time the table was
altered by a DDL or DML operation" (docs: sql-reference/info-schema/tables); fakesnow's view of it reads 1970
(fakesnow/info_schema.py ``SQL_CREATE_INFORMATION_SCHEMA_TABLES_VIEW``: ``to_timestamp(0)``). One row per table
lives in the table's own database, ``DB._fs_information_schema._sim_table_times`` (fakesnow's per-database schema,
which SHOW TABLES and INFORMATION_SCHEMA.TABLES leave out): DuckDB lets one transaction write one attached
database, so only there can a table's row commit in the same transaction as the write it records — after a crash
the two never disagree (a row written after the commit could be missing, one written before could be early).
Times are naive UTC (``clock.catalog_now``), read back as ``TIMESTAMP_TZ`` in UTC, as fakesnow's columns are.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

FS_SCHEMA = "_fs_information_schema"  # fakesnow's per-database schema (account/home.py)
TABLE = "_sim_table_times"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def catalog_table(database: str) -> str:
    return f"{_quoted(database)}.{FS_SCHEMA}.{TABLE}"


def creation_sql(database: str) -> str:
    """The catalog of ``database`` (``if not exists``; its per-database schema exists already)."""
    return (
        f"create table if not exists {catalog_table(database)} (TABLE_SCHEMA varchar not null, "
        "TABLE_NAME varchar not null, CREATED timestamp not null, LAST_ALTERED timestamp not null, "
        "primary key (TABLE_SCHEMA, TABLE_NAME))"
    )


def created(cur: duckdb.DuckDBPyConnection, database: str, schema: str, table: str, now: datetime) -> None:
    """A table was made (CREATE, CREATE OR REPLACE, CTAS): it is new, so both times are ``now``."""
    cur.execute(creation_sql(database))
    cur.execute(
        f"insert or replace into {catalog_table(database)} values (?, ?, ?, ?)", [schema, table, now, now]
    )


def altered(cur: duckdb.DuckDBPyConnection, database: str, schema: str, table: str, now: datetime) -> None:
    """A DML or ALTER wrote the table: LAST_ALTERED moves, CREATED stays (``now`` for a table the catalog has no
    row for: one made before the catalog kept times)."""
    cur.execute(creation_sql(database))
    cur.execute(
        f"insert into {catalog_table(database)} values (?, ?, ?, ?) on conflict (TABLE_SCHEMA, TABLE_NAME) "
        "do update set LAST_ALTERED = greatest(LAST_ALTERED, excluded.LAST_ALTERED)",
        [schema, table, now, now],
    )


def renamed(
    cur: duckdb.DuckDBPyConnection, database: str, schema: str, table: str, new_name: str, now: datetime
) -> None:
    """``ALTER TABLE … RENAME TO``: the same table under another name, altered ``now``."""
    cur.execute(creation_sql(database))
    cur.execute(
        f"update {catalog_table(database)} set TABLE_NAME = ?, LAST_ALTERED = ? "
        "where TABLE_SCHEMA = ? and TABLE_NAME = ?",
        [new_name, now, schema, table],
    )
    altered(cur, database, schema, new_name, now)


def dropped(cur: duckdb.DuckDBPyConnection, database: str, schema: str, table: str | None) -> None:
    """A table (``table``) or a whole schema (``table`` None) was dropped."""
    cur.execute(creation_sql(database))
    if table is None:
        cur.execute(f"delete from {catalog_table(database)} where TABLE_SCHEMA = ?", [schema])
    else:
        cur.execute(
            f"delete from {catalog_table(database)} where TABLE_SCHEMA = ? and TABLE_NAME = ?",
            [schema, table],
        )
