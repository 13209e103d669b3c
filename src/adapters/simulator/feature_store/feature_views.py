"""The guide's entity and feature view (``get_feature_view`` in ``src/data.py``), materialized in DuckDB.

Catalog tables in DuckDB's ``main`` schema: ``FS_ENTITIES`` (name, join keys) and ``FS_FEATURE_VIEWS`` (one row
per name and version: entity, timestamp column, source table, the stored query). A version's rows live in the
table ``<DB>.<FS SCHEMA>."<NAME>$<VERSION>"`` of the user database, as Snowflake names the object behind
``NAME/VERSION``; it is written first, in its own database's transaction, and the catalog row after it.

The features are the guide's, computed over the whole source table: date parts of TIMESTAMP (DOTW as Snowflake's
DAYOFWEEK with WEEK_START 0: 0 = Sunday), amounts times 1000, INCOME / LOAN_AMOUNT, the county mean income, the
high-income flag, a 30-day RANGE window of county loan amounts; then mean imputation of the nine numeric
features with global means computed once and baked into the query (a NULL mean → 0), and LOAN_PURPOSE_ENCODED as
the index in the sorted distinct non-NULL purposes (unknown or NULL → -1), like the guide's label-encoder UDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.objects import ObjectName, ensure_schema, sql_string
from domain.features import (
    ENCODED_FEATURE,
    ENTITY_DESC,
    ENTITY_NAME,
    JOIN_KEY,
    NUMERIC_FEATURES,
    TIMESTAMP_COL,
)


@dataclass(frozen=True)
class FeatureViewRow:
    """A registered feature view version, as the catalog holds it."""

    table: ObjectName
    version: str
    source_table: str
    created_on: datetime


def ensure_catalog(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        "create table if not exists FS_ENTITIES (NAME varchar primary key, JOIN_KEYS varchar[] not null, "
        "DESCRIPTION varchar not null, CREATED_ON timestamp not null)"
    )
    cur.execute(
        "create table if not exists FS_FEATURE_VIEWS (DATABASE_NAME varchar not null, "
        "SCHEMA_NAME varchar not null, NAME varchar not null, VERSION varchar not null, "
        "ENTITY varchar not null, TIMESTAMP_COL varchar not null, SOURCE_TABLE varchar not null, "
        "TABLE_NAME varchar not null, CREATED_ON timestamp not null, QUERY varchar not null, "
        "primary key (DATABASE_NAME, SCHEMA_NAME, NAME, VERSION))"
    )


def version_table(view: ObjectName, version: str) -> ObjectName:
    """The table behind ``NAME/VERSION``."""
    return ObjectName(view.database, view.schema, f"{view.name}${version}")


def find_feature_view(
    cur: duckdb.DuckDBPyConnection, view: ObjectName, version: str
) -> FeatureViewRow | None:
    ensure_catalog(cur)
    row = cur.execute(
        "select SOURCE_TABLE, CREATED_ON from FS_FEATURE_VIEWS "
        "where DATABASE_NAME = ? and SCHEMA_NAME = ? and NAME = ? and VERSION = ?",
        [view.database, view.schema, view.name, version],
    ).fetchone()
    return None if row is None else FeatureViewRow(version_table(view, version), version, row[0], row[1])


def ensure_entity(cur: duckdb.DuckDBPyConnection) -> bool:
    """Register LOAN_ENTITY (join key LOAN_ID) unless it exists; True when it was created."""
    ensure_catalog(cur)
    if cur.execute("select count(*) from FS_ENTITIES where NAME = ?", [ENTITY_NAME]).fetchone()[0]:
        return False
    cur.execute(
        "insert into FS_ENTITIES values (?, ?, ?, ?)", [ENTITY_NAME, [JOIN_KEY], ENTITY_DESC, catalog_now()]
    )
    return True


def _base_sql(source: ObjectName) -> str:
    """The features before imputation, as the guide's two ``with_columns`` passes compute them."""
    return (
        "with raw as (select LOAN_ID, cast(TS as timestamp) as TIMESTAMP, LOAN_PURPOSE_NAME, COUNTY_NAME, "
        'cast("LOAN_AMOUNT_000s" as double) * 1000 as LOAN_AMOUNT, '
        'cast("APPLICANT_INCOME_000s" as double) * 1000 as INCOME '
        f"from {source.duck}), "
        "dated as (select *, month(TIMESTAMP) as MONTH, dayofyear(TIMESTAMP) as DAY_OF_YEAR, "
        "dayofweek(TIMESTAMP) as DOTW, INCOME / LOAN_AMOUNT as INCOME_LOAN_RATIO, "
        "avg(INCOME) over (partition by COUNTY_NAME) as MEAN_COUNTY_INCOME, "
        "avg(LOAN_AMOUNT) over (partition by COUNTY_NAME order by TIMESTAMP "
        "range between interval 30 days preceding and current row) as AVG_THIRTY_DAY_LOAN_AMOUNT "
        "from raw), "
        "features as (select *, cast(INCOME > MEAN_COUNTY_INCOME as integer) as HIGH_INCOME_FLAG from dated) "
    )


def _double(value: float | None) -> str:
    # A string cast parses the repr exactly; a bare decimal literal could become DECIMAL.
    return f"cast({sql_string(repr(float(value if value is not None else 0.0)))} as double)"


def feature_view_query(cur: duckdb.DuckDBPyConnection, source: ObjectName) -> str:
    """The feature view's query for ``source``, with its global means and purpose levels baked in."""
    base = _base_sql(source)
    means = cur.execute(
        base + "select " + ", ".join(f"avg({f})" for f in NUMERIC_FEATURES) + " from features"
    )
    mean_row = means.fetchone()
    purposes = [
        r[0]
        for r in cur.execute(
            f"select distinct LOAN_PURPOSE_NAME from {source.duck} where LOAN_PURPOSE_NAME is not null"
        ).fetchall()
    ]
    encode = " ".join(f"when {sql_string(p)} then {i}" for i, p in enumerate(sorted(purposes)))
    encoded = f"case LOAN_PURPOSE_NAME {encode} else -1 end" if purposes else "-1"
    imputed = ", ".join(
        f"coalesce(cast({f} as double), {_double(m)}) as {f}"
        for f, m in zip(NUMERIC_FEATURES, mean_row, strict=True)
    )
    return f"{base}select LOAN_ID, TIMESTAMP, {imputed}, cast({encoded} as integer) as {ENCODED_FEATURE} from features"


def materialize_feature_view(
    cur: duckdb.DuckDBPyConnection, source: ObjectName, view: ObjectName, version: str
) -> str:
    """Write the rows of ``view/version`` from ``source`` (the user database only; replaces rows a failed
    registration left behind); returns the stored query for ``register_feature_view``."""
    query = feature_view_query(cur, source)
    table = version_table(view, version)
    ensure_schema(cur, table.database, table.schema)
    cur.execute(f"create or replace table {table.duck} as {query}")
    return query


def register_feature_view(
    cur: duckdb.DuckDBPyConnection, source: ObjectName, view: ObjectName, version: str, query: str
) -> FeatureViewRow:
    """The catalog row of a materialized ``view/version`` (the account's ``main`` only)."""
    ensure_catalog(cur)
    table = version_table(view, version)
    created = catalog_now()
    cur.execute(
        "insert into FS_FEATURE_VIEWS values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [view.database, view.schema, view.name, version, ENTITY_NAME, TIMESTAMP_COL, source.qualified,
         table.name, created, query],
    )  # fmt: skip
    return FeatureViewRow(table, version, source.qualified, created)
