"""``python -m app setup`` on the simulator: what the guide's setup scripts create, in the local account.

The guide's ``create_resources.sql`` and ``setup_feature_store.py`` create database, schema, stages DAG_STAGE and
JOB_STAGE, the data schema (which is also the feature store), UDF_STAGE in it, the source table and the feature
view of its data version; an administrator creates the compute pool there, here setup creates the configured
one (MAX_NODES from ``[names] compute_pool_max_nodes``), since a job on a pool that does not exist fails. Here the same objects are made in the local account (see ``account_objects`` for how
they map to DuckDB and folders), and ``ACCOUNT_INFO`` records when (where the data came from is kept with the
table's rows).

Idempotent: what exists is kept and reported; the source table is rebuilt only with ``force`` (a new
last-altered time, so a new data version), and a ``data`` file for a table that exists is refused without it. Input is checked before anything is written — bad parameters or a bad
data file leave the account as it was. All or nothing: a setup that fails half way (a full disk) leaves the
table with its rows and data version as they were (``_write``), and a first setup leaves no home on a path it
made.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb

from adapters.simulator.account import objects as account_objects
from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.errors import translated
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import (
    check_max_nodes,
    ensure_compute_pool,
    ensure_database,
    ensure_schema,
    ensure_stage,
    object_exists,
    render_part,
    resolve_name,
)
from adapters.simulator.feature_store.data_generator import DEFAULT_ROWS, generate_mortgage_data
from adapters.simulator.feature_store.source_tables import (
    TableInfo,
    find_table,
    load_source_file,
    load_source_table,
)
from adapters.simulator.feature_store.store import SimFeatureStore
from domain.errors import AlreadyExists
from domain.names import normalize_identifier, normalize_qualified

STAGES = ("DAG_STAGE", "JOB_STAGE")
UDF_STAGE = "UDF_STAGE"


@dataclass(frozen=True)
class SetupReport:
    """What setup did: objects created vs already present, the source table and its data version."""

    home: Path
    created: tuple[str, ...]
    existing: tuple[str, ...]
    source_table: str
    row_count: int
    data_version: str
    loaded: bool
    messages: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.created) or self.loaded


def setup_account(
    account: LocalAccount,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = 42,
    signal: float = 1.0,
    data: Path | None = None,
    force: bool = False,
    database: str = "SNOWBANK",
    schema: str = "DEV",
    data_schema: str = "DATA",
    source_table: str = "MORTGAGE_LENDING_DEMO_DATA",
    compute_pool: str = "DEMO_POOL",
    compute_pool_max_nodes: int = 2,
) -> SetupReport:
    """Create the guide's objects and load the source table (generated, or from ``data``)."""
    db = normalize_qualified(database, "database")[0]
    sc = normalize_qualified(schema, "schema")[0]
    ds = normalize_qualified(data_schema, "schema")[0]
    table = resolve_name(source_table, database=db, schema=ds)
    pool, pool_nodes = (
        normalize_identifier(compute_pool, "compute pool"),
        check_max_nodes(compute_pool_max_nodes),
    )
    pool_label = f"compute pool {render_part(pool)}"
    objects = [
        ("DATABASE", render_part(db), f"database {render_part(db)}"),
        *(("SCHEMA", f"{render_part(db)}.{render_part(s)}", f"schema {render_part(db)}.{render_part(s)}")
          for s in dict.fromkeys((sc, ds, table.schema))),
        *(("STAGE", f"{render_part(db)}.{render_part(s)}.{st}", f"stage @{render_part(db)}.{render_part(s)}.{st}")
          for s, st in ((sc, STAGES[0]), (sc, STAGES[1]), (ds, UDF_STAGE))),
    ]  # fmt: skip
    with translated("reading the account catalog"), account.cursor() as cur:
        before = {label for kind, name, label in objects if object_exists(cur, kind, name)}
        if account_objects.compute_pool_max_nodes(cur, pool) is not None:
            before.add(pool_label)
        previous = find_table(cur, table)

    if data is not None and previous is not None and not force:
        # Refused, not ignored: a user naming a file expects it loaded, and "Nothing to do" (exit 0) hid it.
        raise AlreadyExists(
            f"--data {data} was not loaded: table {previous.name} already holds {previous.row_count:,} rows "
            f"(data version {previous.version}); add -f to replace them with the file (a new data version)"
        )
    origin = _Origin(rows, seed, signal, None if data is None else Path(data))
    load: Callable[[], TableInfo]
    if previous is not None and not force:
        kept = previous
        load = lambda: kept  # noqa: E731
    elif data is not None:
        load = partial(load_source_file, account, source_table, Path(data), database=db, schema=ds,
                       replace=force, pipeline_rules=True, origin=origin.info())  # fmt: skip
    else:
        frame = generate_mortgage_data(rows, seed, signal)  # validates rows, seed, signal before any write
        load = partial(load_source_table, account, source_table, frame, database=db, schema=ds,
                       replace=force, pipeline_rules=True, origin=origin.info())  # fmt: skip
    new_home = account.is_new
    try:
        info = _write(account, load, db=db, schemas=(sc, ds), pool=(pool, pool_nodes))
    except BaseException:
        if new_home:  # all or nothing: a first setup that failed leaves no home (on a path it made)
            account.discard_on_close()
        raise
    loaded = previous is None or force

    labels = [label for _, _, label in objects] + [pool_label]
    created = tuple(label for label in labels if label not in before)
    existing = tuple(label for label in labels if label in before)
    return SetupReport(
        home=account.home,
        created=created,
        existing=existing,
        source_table=table.qualified,
        row_count=info.row_count,
        data_version=info.version,
        loaded=loaded,
        messages=_messages(
            account,
            created=created,
            existing=existing,
            info=info,
            previous=previous,
            origin=origin,
            loaded=loaded,
        ),
    )


def _write(
    account: LocalAccount,
    load: Callable[[], TableInfo],
    *,
    db: str,
    schemas: tuple[str, str],
    pool: tuple[str, int],
) -> TableInfo:
    """Every write of setup, in an order that makes it all or nothing: the source table's one transaction
    (rows and data version, ``source_tables``) comes first, as it is where input is checked and where a full
    disk is most likely; after it come only objects created if missing (on a home set up before, nothing) and
    the feature view, which every run derives again from the table's data version. A first setup that fails
    is undone by its caller (``discard_on_close``)."""
    sc, ds = schemas
    info = load()
    # The user database's objects first (each idempotent), then the account's catalog rows in one transaction:
    # DuckDB lets one transaction write one attached database.
    with translated("creating the account objects"), account.cursor() as cur:
        ensure_database(account, cur, db)
        for s in dict.fromkeys((sc, ds)):
            ensure_schema(cur, db, s)
    with translated("creating the account objects"), account.transaction() as cur:
        for s, st in ((sc, STAGES[0]), (sc, STAGES[1]), (ds, UDF_STAGE)):
            ensure_stage(account, cur, db, s, st)
        ensure_compute_pool(cur, *pool)
        _record_info(cur)
    with warnings.catch_warnings():  # an existing view is the idempotent case, not news
        warnings.simplefilter("ignore", UserWarning)
        SimFeatureStore(account, database=db, schema=ds).ensure_feature_view(
            info.name.qualified, info.version
        )
    return info


@dataclass(frozen=True)
class _Origin:
    """Where the source table's rows come from: the generator's parameters, or a user's file."""

    rows: int
    seed: int
    signal: float
    data: Path | None

    def describe(self) -> str:
        if self.data is not None:
            return f"from {self.data}"
        return f"generated (seed {self.seed}, signal {float(self.signal):g})"

    def info(self) -> dict[str, str]:
        generated = self.data is None
        return {
            "data_file": "" if generated else str(Path(self.data).resolve()),
            "generator_rows": str(self.rows) if generated else "",
            "generator_seed": str(self.seed) if generated else "",
            "generator_signal": str(float(self.signal)) if generated else "",
        }


def _record_info(cur: duckdb.DuckDBPyConnection) -> None:
    """``ACCOUNT_INFO`` (key, value): the marker ``LocalAccount.is_new`` looks for. What was loaded, from where,
    travels with the table's rows (``source_tables``), so nothing here can disagree with them."""
    cur.execute(
        "create table if not exists ACCOUNT_INFO (KEY varchar primary key, VALUE varchar, UPDATED_ON timestamp)"
    )
    now = catalog_now()
    cur.execute("insert or ignore into ACCOUNT_INFO values ('created_on', ?, ?)", [now.isoformat(), now])


def _messages(
    account: LocalAccount,
    *,
    created: tuple[str, ...],
    existing: tuple[str, ...],
    info: TableInfo,
    previous: TableInfo | None,
    origin: _Origin,
    loaded: bool,
) -> tuple[str, ...]:
    lines = [f"Simulator home: {account.home}"]
    lines += [f"Created {label}" for label in created]
    if existing:
        lines.append(f"Already present: {', '.join(existing)}")
    if loaded and previous is not None:
        lines.append(
            f"Rebuilt table {info.name}: {info.row_count:,} rows {origin.describe()}; data version "
            f"{previous.version} -> {info.version}"
        )
    elif loaded:
        lines.append(
            f"Loaded table {info.name}: {info.row_count:,} rows {origin.describe()}; data version {info.version}"
        )
    else:
        lines.append(
            f"Table {info.name} already holds {info.row_count:,} rows (data version {info.version}); "
            f"use --force to rebuild it"
        )
    if not created and not loaded:
        lines.append("Nothing to do: the account is set up already.")
    lines.append(f"Stages are folders under {account.files / 'stages'}")
    return tuple(lines)
