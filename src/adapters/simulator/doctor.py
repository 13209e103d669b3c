"""``doctor`` on the simulator: is the home set up so that a deploy and its first run work?

It checks what ``setup`` creates — the home, database, schemas, stages, source table, feature view, compute
pool and notification integration — and reads only: a home that does not exist yet is reported, not created.
Every fix is ``python -m app setup``, which creates whatever is missing and keeps what exists. First it reads
every table of every database file once ("database integrity"): a damaged file is named with what to do, and
the other checks, which would read it too, are not run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

from adapters.simulator.account.errors import translated
from adapters.simulator.account.home import DB_FILE, LocalAccount, stored_tables
from adapters.simulator.account.objects import (
    compute_pool_max_nodes,
    object_exists,
    quote_ident,
    render_part,
    resolve_name,
)
from adapters.simulator.feature_store.feature_views import find_feature_view
from adapters.simulator.feature_store.source_tables import find_table
from adapters.simulator.notifications.integrations import IntegrationCatalog
from adapters.simulator.setup import STAGES, UDF_STAGE
from domain.errors import DomainError, NotFound, StoreDamaged
from domain.features import FEATURE_VIEW_NAME
from domain.names import normalize_identifier, normalize_qualified
from domain.readiness import Check

SETUP = "python -m app setup"


class SimulatorDoctor:
    """Checks one home; ``account`` opens it, and is called only when the home's database exists."""

    def __init__(
        self,
        home: Path,
        account: Callable[[], LocalAccount],
        *,
        database: str,
        schema: str,
        data_schema: str,
        source_table: str,
        compute_pool: str,
        target_instances: int,
        notification_integration: str,
    ) -> None:
        self.home = home
        self._account = account
        self.database = normalize_qualified(database, "database")[0]
        self.schema = normalize_qualified(schema, "schema")[0]
        self.data_schema = normalize_qualified(data_schema, "schema")[0]
        self.source_table = source_table
        self.compute_pool = normalize_identifier(compute_pool, "compute pool")
        self.target_instances = target_instances
        self.notification_integration = notification_integration

    def checks(self) -> list[Check]:
        if not (self.home / DB_FILE).is_file():
            return [Check("simulator home", False, f"{self.home} has no local account yet", SETUP)]
        try:
            account = self._account()
            new = account.is_new
        except StoreDamaged as exc:  # a damaged file or log, found while opening the home
            return [Check("simulator home", False, "its database files cannot be opened", str(exc))]
        except DomainError as exc:  # e.g. the home is in use by another process
            return [
                Check("simulator home", False, str(exc), "wait for the other process, or use another --home")
            ]
        if new:
            return [Check("simulator home", False, f"{account.home}: setup has not run in it", SETUP)]
        home = Check("simulator home", True, str(account.home))
        integrity = self._integrity(account)
        if not integrity.ok:
            return [home, integrity]
        with translated("reading the account catalog"), account.cursor() as cur:
            objects = self._catalog(cur)
            objects += self._data(cur)
            objects.append(self._pool(cur))
        return [home, integrity, *objects, self._integration(account)]

    def _integrity(self, account: LocalAccount) -> Check:
        """Every table of every database file read whole once: DuckDB checks each block's checksum as it reads it
        (a count would read no column, so every row is hashed)."""
        with translated("listing the tables of the home"), account.cursor() as cur:
            tables = [(c, s, n) for c, s, n, kind in stored_tables(cur) if kind == "BASE TABLE"]
        damage: dict[str, list[str]] = {}  # what to do -> the tables it is found in
        for catalog, schema, name in tables:
            shown = ".".join(render_part(p) for p in (catalog, schema, name))
            try:
                with translated(f"reading table {shown}"), account.cursor() as cur:
                    table = ".".join(quote_ident(p) for p in (catalog, schema, name))
                    cur.execute(f"select bit_xor(hash(t)) from {table} as t").fetchone()
            except StoreDamaged as exc:
                damage.setdefault(str(exc), []).append(shown)
        files = account.database_files()
        count = 1 + len(files.databases) if files is not None else 1
        if not damage:
            return Check(
                "database integrity", True, f"{len(tables)} tables of {count} database file(s) read whole"
            )
        unreadable = [t for found in damage.values() for t in found]
        return Check(
            "database integrity",
            False,
            f"{len(unreadable)} of {len(tables)} tables cannot be read: {', '.join(unreadable)}",
            "; ".join(damage),
        )

    def _catalog(self, cur: duckdb.DuckDBPyConnection) -> list[Check]:
        db, sc, ds = render_part(self.database), render_part(self.schema), render_part(self.data_schema)
        wanted = [
            ("DATABASE", db, f"database {db}"),
            *(("SCHEMA", f"{db}.{s}", f"schema {db}.{s}") for s in dict.fromkeys((sc, ds))),
            *(("STAGE", f"{db}.{s}.{st}", f"stage @{db}.{s}.{st}")
              for s, st in ((sc, STAGES[0]), (sc, STAGES[1]), (ds, UDF_STAGE))),
        ]  # fmt: skip
        return [
            Check(label, True, "exists") if object_exists(cur, kind, name)
            else Check(label, False, "does not exist", SETUP)
            for kind, name, label in wanted
        ]  # fmt: skip

    def _data(self, cur: duckdb.DuckDBPyConnection) -> list[Check]:
        table = resolve_name(self.source_table, database=self.database, schema=self.data_schema)
        info = find_table(cur, table)
        if info is None:
            return [Check(f"source table {table}", False, "does not exist", SETUP)]
        source = Check(f"source table {table}", True, f"{info.row_count:,} rows, data version {info.version}")
        view = resolve_name(FEATURE_VIEW_NAME, database=self.database, schema=self.data_schema)
        label = f"feature view {view}/{info.version}"
        if find_feature_view(cur, view, info.version) is None:
            return [source, Check(label, False, "the source's data version has no feature view", SETUP)]
        return [source, Check(label, True, "exists")]

    def _pool(self, cur: duckdb.DuckDBPyConnection) -> Check:
        label = f"compute pool {render_part(self.compute_pool)}"
        max_nodes = compute_pool_max_nodes(cur, self.compute_pool)
        if max_nodes is None:
            return Check(label, False, "does not exist: the training job would fail", SETUP)
        if self.target_instances > max_nodes:
            return Check(
                label,
                False,
                f"MAX_NODES {max_nodes} is below target_instances {self.target_instances}",
                f"deploy with --config target_instances={max_nodes}, or set [pipeline] target_instances",
            )
        return Check(label, True, f"exists, MAX_NODES {max_nodes}")

    def _integration(self, account: LocalAccount) -> Check:
        label = f"notification integration {self.notification_integration}"
        try:
            integration = IntegrationCatalog(account).get_integration(self.notification_integration)
        except NotFound:
            return Check(label, False, "does not exist: the finalizer's notice would fail", SETUP)
        state = "enabled" if integration.enabled else "disabled (notices are refused until it is enabled)"
        return Check(label, True, f"{integration.type} integration, {state}")
