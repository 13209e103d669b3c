"""Databases, schemas, stages and object names of the local account.

Modelling (fakesnow's, so task SQL through fakesnow sees the same objects): Snowflake database ``DB`` is the DuckDB
catalog ``DB`` attached from ``<home>/databases/DB.db`` (``LocalAccount.attach_database``), schema ``DB.SCHEMA`` is
the DuckDB schema ``SCHEMA`` in it, so ``SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA`` is the DuckDB table of that
very name. Whether a database or schema exists is read from DuckDB's catalog, so one created by task SQL counts.
Catalog tables (``SIM_OBJECTS`` here, ``SIM_TABLES``, the feature-store and dataset catalogs,
``REGISTRY_LINEAGE``…) live in the account file's ``main`` schema; DuckDB lets one transaction write one
attached database only, so a change to a user database and to a catalog row are two transactions, the user
database's first. A stage is a folder ``<home>/files/stages/<DATABASE>/<SCHEMA>/<STAGE>/``. Compute pools are account-level
objects with a size, so they have their own catalog table, ``SIM_COMPUTE_POOLS``.

Names reach SQL only after ``domain.names`` validated them, and always as quoted identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.folders import path_segment
from adapters.simulator.account.home import LocalAccount, database_exists
from domain.errors import InvalidConfig, NotFound
from domain.names import normalize_identifier, normalize_qualified

_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def quote_ident(name: str) -> str:
    """A DuckDB identifier for an already validated name."""
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    """A SQL string literal (for data values baked into stored queries)."""
    return "'" + value.replace("'", "''") + "'"


def render_part(part: str) -> str:
    """One identifier written back so ``normalize_qualified`` reads it unchanged (quoted when it must be)."""
    if part and part[0] not in "0123456789$" and set(part) <= _PLAIN:
        return part
    return quote_ident(part)


@dataclass(frozen=True)
class ObjectName:
    """A schema-level object ``DATABASE.SCHEMA.NAME``, resolved and validated."""

    database: str
    schema: str
    name: str

    @property
    def qualified(self) -> str:
        return ".".join(render_part(p) for p in (self.database, self.schema, self.name))

    @property
    def duck(self) -> str:
        """The quoted DuckDB name of the table behind this object: ``"DB"."SCHEMA"."NAME"``."""
        return ".".join(quote_ident(p) for p in (self.database, self.schema, self.name))

    def __str__(self) -> str:
        return self.qualified


def resolve_name(text: str, *, database: str, schema: str, what: str = "table") -> ObjectName:
    """``[DB.][SCHEMA.]NAME`` → ``ObjectName``, filling in the defaults; ``InvalidName`` for bad names."""
    parts = normalize_qualified(text, what)
    defaults = (normalize_qualified(database, "database")[0], normalize_qualified(schema, "schema")[0])
    full = (*defaults[: 3 - len(parts)], *parts)
    return ObjectName(*full)


def ensure_catalog(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        "create table if not exists SIM_OBJECTS (KIND varchar not null, NAME varchar not null, "
        "CREATED_ON timestamp not null, primary key (KIND, NAME))"
    )


def schema_exists(cur: duckdb.DuckDBPyConnection, database: str, schema: str) -> bool:
    """Whether schema ``database.schema`` (normalized names) exists in DuckDB's catalog."""
    row = cur.execute(
        "select count(*) from duckdb_schemas() where lower(database_name) = lower(?) and schema_name = ?",
        [database, schema],
    ).fetchone()
    return bool(row and row[0]) and database_exists(cur, database)


def object_exists(cur: duckdb.DuckDBPyConnection, kind: str, name: str) -> bool:
    """Whether the ``kind`` object ``name`` (as ``render_part`` writes it, ``DB.SCHEMA`` for a schema) exists."""
    if kind == "DATABASE":
        return database_exists(cur, normalize_qualified(name, "database")[0])
    if kind == "SCHEMA":
        database, schema = normalize_qualified(name, "schema")
        return schema_exists(cur, database, schema)
    ensure_catalog(cur)
    row = cur.execute("select count(*) from SIM_OBJECTS where KIND = ? and NAME = ?", [kind, name]).fetchone()
    return bool(row and row[0])


def _record(cur: duckdb.DuckDBPyConnection, kind: str, name: str) -> bool:
    if object_exists(cur, kind, name):
        return False
    cur.execute("insert into SIM_OBJECTS values (?, ?, ?)", [kind, name, catalog_now()])
    return True


def ensure_database(account: LocalAccount, cur: duckdb.DuckDBPyConnection, database: str) -> bool:
    """``CREATE DATABASE IF NOT EXISTS`` (outside a transaction); True when it was created."""
    return account.attach_database(cur, normalize_qualified(database, "database")[0])


def ensure_schema(cur: duckdb.DuckDBPyConnection, database: str, schema: str) -> bool:
    """``CREATE SCHEMA IF NOT EXISTS DB.SCHEMA``; the database must exist (``NotFound`` otherwise). It writes
    the user database only, so it may run inside that database's transaction."""
    db = normalize_qualified(database, "database")[0]
    name = normalize_qualified(schema, "schema")[0]
    if not database_exists(cur, db):
        raise NotFound(f"database {render_part(db)} does not exist; create it first (python -m app setup)")
    if schema_exists(cur, db, name):
        return False
    cur.execute(f"create schema if not exists {quote_ident(db)}.{quote_ident(name)}")
    return True


def ensure_stage(
    account: LocalAccount, cur: duckdb.DuckDBPyConnection, database: str, schema: str, stage: str
) -> bool:
    """``CREATE STAGE IF NOT EXISTS``: a catalog row and a folder in the files area."""
    db, sc, st = (normalize_qualified(x, what)[0] for x, what in ((database, "database"), (schema, "schema"),
                                                                  (stage, "stage")))  # fmt: skip
    created = _record(cur, "STAGE", ".".join(render_part(p) for p in (db, sc, st)))
    stage_path(account, db, sc, st).mkdir(parents=True, exist_ok=True)
    return created


def stage_path(account: LocalAccount, database: str, schema: str, stage: str) -> Path:
    """The folder behind ``@DATABASE.SCHEMA.STAGE`` (names already normalized)."""
    return stages_root(account).joinpath(*(path_segment(p) for p in (database, schema, stage)))


def stages_root(account: LocalAccount) -> Path:
    """The folder holding every stage of the account, one ``DATABASE/SCHEMA/STAGE`` folder each."""
    return account.files / "stages"


def _ensure_pool_catalog(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        "create table if not exists SIM_COMPUTE_POOLS (NAME varchar primary key, MIN_NODES integer not null, "
        "MAX_NODES integer not null, CREATED_ON timestamp not null)"
    )


def compute_pool_max_nodes(cur: duckdb.DuckDBPyConnection, name: str) -> int | None:
    """MAX_NODES of compute pool ``name``, or None when the account has no such pool."""
    _ensure_pool_catalog(cur)
    row = cur.execute(
        "select MAX_NODES from SIM_COMPUTE_POOLS where NAME = ?", [normalize_identifier(name, "compute pool")]
    ).fetchone()
    return None if row is None else int(row[0])


def check_max_nodes(max_nodes: object) -> int:
    """A pool size as Snowflake accepts it (MAX_NODES is a whole number >= 1); ``InvalidConfig`` otherwise."""
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise InvalidConfig(f"compute pool MAX_NODES must be a whole number >= 1, got {max_nodes!r}")
    return max_nodes


def ensure_compute_pool(cur: duckdb.DuckDBPyConnection, name: str, max_nodes: int) -> bool:
    """``CREATE COMPUTE POOL IF NOT EXISTS name MIN_NODES = 1 MAX_NODES = max_nodes``; True when it was created.

    As with IF NOT EXISTS on Snowflake, an existing pool keeps its size.
    """
    pool = normalize_identifier(name, "compute pool")
    nodes = check_max_nodes(max_nodes)
    if compute_pool_max_nodes(cur, pool) is not None:
        return False
    cur.execute(
        "insert or ignore into SIM_COMPUTE_POOLS values (?, ?, ?, ?)", [pool, 1, nodes, catalog_now()]
    )
    return True
