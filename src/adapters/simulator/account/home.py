"""The local account: one folder holding DuckDB databases and a files area.

Layout of a home::

    <home>/account.duckdb   the simulator's catalogs (tables, feature views, datasets), task-graph state and
                            history, jobs, registry metadata, notification outbox
    <home>/databases/DB.db  Snowflake database ``DB``: a DuckDB catalog named ``DB`` attached from this file (the
                            file naming fakesnow uses with ``db_path``), its schemas are DuckDB schemas in it
    <home>/databases/_fs_global.db  fakesnow's catalog of objects spanning databases (stages, file formats, users,
                            table comments), attached as ``_fs_global``; rebuilt when fakesnow's layout changes
    <home>/files/           dataset versions (Parquet), model files, job logs, mailboxes

The connection is opened with fakesnow's settings (fakesnow/instance.py ``FakeSnow.__init__``), so Snowflake SQL
translated by fakesnow runs on it. ``LocalAccount(None)`` is a temporary account: an in-memory database (its
Snowflake databases are attached ``:memory:``) and a temporary files folder, removed on ``close()``. A second
process opening the same home gets ``BackendUnavailable`` naming the home, instead of waiting forever or
corrupting anything: DuckDB holds an exclusive file lock on the account file and on every attached database.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from adapters.simulator.account import table_times, wal
from adapters.simulator.account.errors import HomeFiles, damaged
from domain.errors import BackendUnavailable, HomeInUse, InvalidName
from domain.names import normalize_qualified

CLOSE_WAIT_SECONDS = 10.0  # how long close waits for another thread's statement
DB_FILE = "account.duckdb"
DATABASES_DIR = "databases"
# fakesnow's per-database schema: its presence marks a Snowflake database.
FS_SCHEMA = "_fs_information_schema"
# fakesnow's catalog of objects spanning databases (fakesnow/instance.py GLOBAL_DATABASE_NAME), kept in this
# file of the databases folder (fakesnow attaches it in memory: its stage definitions would not survive a restart)
GLOBAL_DATABASE_NAME = "_fs_global"
GLOBAL_DATABASE_FILE = f"{GLOBAL_DATABASE_NAME}.db"
# which fakesnow made the global catalog: a digest of its creation SQL, and fakesnow's version for the log
_GLOBAL_LAYOUT = f"{GLOBAL_DATABASE_NAME}.{FS_SCHEMA}._sim_layout"
_FS_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_INTERRUPT_SECONDS = 60.0  # how long an interrupted thread's cursor is kept interrupted

log = logging.getLogger(__name__)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _connect(database: str, global_file: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up as fakesnow sets up its own (fakesnow/instance.py ``FakeSnow.__init__``), its
    global catalog attached from ``global_file``."""
    for file in (database, global_file):
        if file != ":memory:":
            wal.keep_if_dropped(Path(file))
    # sqlglot's DuckDB output still writes ``x -> …`` lambdas, which DuckDB 2.0 accepts only with this setting.
    con = duckdb.connect(database, config={"lambda_syntax": "ENABLE_SINGLE_ARROW"})
    try:
        # Its objects (table comments, SHOW views, users) are made when fakesnow is first needed
        # (``LocalAccount.ensure_fakesnow``): importing fakesnow imports the connector, ~1 s a read-only
        # command should not pay.
        con.execute(f"ATTACH IF NOT EXISTS '{_sql_text(global_file)}' AS {GLOBAL_DATABASE_NAME}")
        con.execute("SET GLOBAL TimeZone = 'UTC'")  # Snowflake's account default time zone in fakesnow
    except BaseException:
        con.close()
        raise
    return con


def database_exists(cur: duckdb.DuckDBPyConnection, database: str) -> bool:
    """Whether Snowflake database ``database`` (normalized) is attached: by this simulator or by task SQL through
    fakesnow, which both create fakesnow's per-database schema in it. DuckDB catalog names ignore case."""
    row = cur.execute(
        "select count(*) from duckdb_schemas() where lower(database_name) = lower(?) and schema_name = ?",
        [database, FS_SCHEMA],
    ).fetchone()
    return bool(row and row[0])


def stored_tables(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    """(catalog, schema, name, table type) of every table and view of the account file and its databases, without
    fakesnow's own objects (its global catalog, each database's info schema)."""
    return [
        (str(c), str(s), str(n), str(k))
        for c, s, n, k in cur.execute(
            "select table_catalog, table_schema, table_name, table_type from information_schema.tables "
            "where table_catalog <> ? and table_schema <> ?",
            [GLOBAL_DATABASE_NAME, FS_SCHEMA],
        ).fetchall()
    ]


def _legacy_schema(schema: str, recorded: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """The (database, schema) of a ``DB__SCHEMA`` schema of a home made before databases were catalogs."""
    if schema in recorded:
        return recorded[schema]
    database, _, name = schema.partition("__")
    return database, name


def default_home() -> Path:
    """``$APP_HOME``, else the per-user data folder (``$XDG_DATA_HOME/taskgraph-ml`` or ``~/.local/share/…``)."""
    if os.environ.get("APP_HOME"):
        return Path(os.environ["APP_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "taskgraph-ml"


class LocalAccount:
    """A simulated Snowflake account living in one folder (or in memory when ``home`` is None)."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self._temporary = home is None
        self.home = (
            Path(tempfile.mkdtemp(prefix="taskgraph-ml-")) if home is None else Path(home).expanduser()
        )
        self.files = self.home / "files"
        # Where Snowflake databases are attached from (fakesnow's ``db_path``); None: attached in memory.
        self.databases: Path | None = None if self._temporary else self.home / DATABASES_DIR
        # The outermost folder this account makes, removed on close if nothing was stored: a failed first
        # command (e.g. ``setup --data`` with a bad file) leaves no stub home behind.
        self._made = (
            None
            if self._temporary
            else next((p for p in reversed((self.home, *self.home.parents)) if not p.exists()), None)
        )
        try:
            self.files.mkdir(parents=True, exist_ok=True)
            if self.databases is not None:  # fakesnow refuses a db_path that is not a folder
                self.databases.mkdir(exist_ok=True)
                self._undo_interrupted_rebuild()
        except OSError as exc:
            raise BackendUnavailable(
                f"the simulator home {self.home} cannot be used: {exc.strerror or exc}; choose a folder you "
                "can write with --home or APP_HOME"
            ) from exc
        database = ":memory:" if self._temporary else str(self.home / DB_FILE)
        try:
            self._con = _connect(database, self._global_file())
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():  # the file lock is held by another process
                raise HomeInUse(
                    f"the simulator home {self.home} is in use by another process; wait for it to finish "
                    f"or use another --home ({exc})",
                    self.home,
                ) from exc
            if "could not read enough bytes" in str(exc).lower():  # cut short, e.g. by a crash or full disk
                raise BackendUnavailable(
                    f"the simulator database {database} is damaged: the file is shorter than its contents "
                    f"say (truncated); restore it from a backup, or move {self.home} aside and run setup to "
                    f"start a new home ({exc})"
                ) from exc
            raise BackendUnavailable(
                f"the simulator database in {self.home} cannot be opened: {exc}"
            ) from exc
        except duckdb.Error as exc:  # e.g. a file that is not a DuckDB database
            if (damage := damaged(exc, self.database_files(), f"opening {database}")) is not None:
                raise damage from exc
            raise BackendUnavailable(
                f"the simulator database in {self.home} cannot be opened: {exc}"
            ) from exc
        # One writer at a time inside this process; DuckDB cursors are per thread.
        self.lock = threading.RLock()
        self._closed = False
        # Threads whose statements may be interrupted (task threads), and the cursor each is using now.
        self._guard = threading.Lock()
        self._interruptible: dict[int, duckdb.DuckDBPyConnection | None] = {}
        self._interrupted: set[int] = set()
        self._on_close: list[Callable[[], None]] = []
        self._fakesnow_lock = threading.Lock()
        self._fakesnow_ready = False  # see ensure_fakesnow
        self._discard = False  # see discard_on_close
        # fetchall, not fetchone: a result left unread keeps the connection's transaction open, and DuckDB then
        # never checkpoints (not even at its WAL size threshold), so the write-ahead log grew without bound.
        self._main = str(self._con.execute("select current_database()").fetchall()[0][0])
        try:
            self._attach_databases()
            self._migrate_legacy_schemas()
        except BaseException:
            self._con.close()
            raise

    def _attach_databases(self) -> None:
        """Attach every database file of the home (DuckDB then holds each file's lock, as for the account's)."""
        if self.databases is None:
            return
        for file in sorted(self.databases.glob("*.db")):
            if file.name == GLOBAL_DATABASE_FILE:  # attached by _connect
                continue
            try:
                self.attach_database(self._con, file.stem)
            except (duckdb.Error, InvalidName) as exc:
                if (
                    isinstance(exc, duckdb.Error)
                    and (damage := damaged(exc, self.database_files())) is not None
                ):
                    raise damage from exc
                raise BackendUnavailable(
                    f"the simulator database file {file} cannot be attached: {exc}; move it out of "
                    f"{self.databases} if it is not a database of this home"
                ) from exc

    def database_files(self) -> HomeFiles | None:
        """The home's database files (None for a temporary account, whose databases are in memory)."""
        if self.databases is None:
            return None
        return HomeFiles(self.home / DB_FILE, tuple(sorted(self.databases.glob("*.db"))))

    def database_file(self, database: str) -> str:
        """Where Snowflake database ``database`` (normalized) is attached from: fakesnow's ``<db_path>/DB.db``
        (fakesnow/conn.py ``FakeSnowflakeConnection.__init__``), or ``:memory:`` for a temporary account."""
        if self.databases is None:
            return ":memory:"
        return str(self.databases / f"{database}.db")

    def attach_database(self, cur: duckdb.DuckDBPyConnection, database: str) -> bool:
        """``CREATE DATABASE IF NOT EXISTS``: attach (creating the file) and add fakesnow's per-database
        objects, as fakesnow's cursor does after CREATE DATABASE (fakesnow/cursor.py ``_execute``); True when
        it was not attached before. Each statement commits on its own: call it outside a transaction."""
        if not _FS_DATABASE_NAME.fullmatch(database):
            # fakesnow writes the name into its SQL unquoted (info_schema.per_db_creation_sql)
            raise InvalidName(
                f"database name {database!r} is not supported by the simulator: use letters, digits, _ and $"
            )
        if database.upper() in {self._main.upper(), GLOBAL_DATABASE_NAME.upper(), "SYSTEM", "TEMP", "MEMORY"}:
            raise InvalidName(
                f"database name {database!r} is reserved by the simulator (its own catalog); choose another name"
            )
        if database_exists(cur, database):
            return False
        file = self.database_file(database)
        if self.databases is not None:
            wal.keep_if_dropped(Path(file))
        quoted = file.replace("'", "''")
        cur.execute(f"attach if not exists '{quoted}' as {_quoted(database)}")
        if not database_exists(cur, database):  # a new file: it gets fakesnow's objects once, when made
            from fakesnow import info_schema, macros

            self.ensure_fakesnow(cur)
            cur.execute(info_schema.per_db_creation_sql(database))
            cur.execute(macros.creation_sql(database))
        cur.execute(table_times.creation_sql(database))  # also in a database made before tables had times
        return True

    def ensure_fakesnow(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Create fakesnow's objects in its global catalog, once per connection (fakesnow/instance.py
        ``FakeSnow.__init__``); what runs fakesnow on this account (the SQL server) calls it first.

        The catalog is a file of the home, so its stages, file formats, users and table comments survive a
        restart. fakesnow creates its tables and views ``if not exists``: a file made by another fakesnow layout
        would keep outdated views, so when the digest of fakesnow's creation SQL differs from the one the file
        records, the file is rebuilt with today's layout and its rows copied over (``_rebuild_global``).
        Temporary stages ended with the sessions of the process that made them: their rows are dropped.
        """
        with self._fakesnow_lock:
            if self._fakesnow_ready:
                return
            from fakesnow import info_schema
            from fakesnow.transforms import show

            creation = info_schema.fs_global_creation_sql() + show.fs_global_creation_sql()
            layout = hashlib.sha256(creation.encode()).hexdigest()
            recorded = self._global_layout(cur)
            if recorded is not None and recorded[0] != layout:
                self._rebuild_global(cur, creation, layout, recorded[1])
            elif recorded is None:
                cur.execute(creation)
                self._record_layout(cur, layout)
            # docs (sql/create-stage): a temporary stage is dropped at the end of the session that made it
            cur.execute(
                f"delete from {GLOBAL_DATABASE_NAME}.{FS_SCHEMA}._fs_stages where type like '%TEMPORARY'"
            )
            self._fakesnow_ready = True

    def _global_file(self) -> str:
        return ":memory:" if self.databases is None else str(self.databases / GLOBAL_DATABASE_FILE)

    def _global_layout(self, cur: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
        """(layout digest, fakesnow version) the global catalog was made with; None for a new catalog. A catalog
        with tables and no record (made before it was kept in a file) counts as an unknown layout."""
        tables = {
            str(n)
            for (n,) in cur.execute(
                "select table_name from duckdb_tables() where database_name = ?", [GLOBAL_DATABASE_NAME]
            ).fetchall()
        }
        if "_sim_layout" in tables:
            row = cur.execute(f"select LAYOUT, FAKESNOW_VERSION from {_GLOBAL_LAYOUT}").fetchone()
            if row is not None:
                return str(row[0]), str(row[1])
        return ("unknown", "unknown") if tables else None

    @staticmethod
    def _record_layout(cur: duckdb.DuckDBPyConnection, layout: str) -> None:
        cur.execute(
            f"create or replace table {_GLOBAL_LAYOUT} (LAYOUT varchar not null, FAKESNOW_VERSION varchar not null)"
        )
        cur.execute(
            f"insert into {_GLOBAL_LAYOUT} values (?, ?)", [layout, importlib.metadata.version("fakesnow")]
        )

    def _rebuild_global(
        self, cur: duckdb.DuckDBPyConnection, creation: str, layout: str, made_by: str
    ) -> None:
        """Make the global catalog file anew with today's layout and copy its rows, column by column name (only a
        file's catalog can have been made by another fakesnow).

        The old file is kept as ``_fs_global.db.old`` until the copy is done: a process that stops half way
        leaves it, and the next open puts it back (``_undo_interrupted_rebuild``) and rebuilds again.
        """
        file = self._global_file()
        old = f"{file}.old"
        cur.execute(f"checkpoint {GLOBAL_DATABASE_NAME}")
        cur.execute(f"detach {GLOBAL_DATABASE_NAME}")
        os.replace(file, old)
        lost: list[str] = []
        cur.execute(f"attach '{_sql_text(old)}' as _sim_old_global (read_only)")
        try:
            cur.execute(f"attach '{_sql_text(file)}' as {GLOBAL_DATABASE_NAME}")
            cur.execute(creation)
            columns: dict[tuple[str, str, str], list[str]] = {}
            for database, schema, table, column in cur.execute(
                "select c.database_name, c.schema_name, c.table_name, c.column_name from duckdb_columns() c "
                "semi join duckdb_tables() t using (database_name, schema_name, table_name) "
                "where c.database_name in (?, '_sim_old_global') and c.table_name <> '_sim_layout' "
                "order by c.column_index",
                [GLOBAL_DATABASE_NAME],
            ).fetchall():
                columns.setdefault((str(database), str(schema), str(table)), []).append(str(column))
            for (database, schema, table), old_columns in columns.items():
                if database != "_sim_old_global":
                    continue
                new_columns = columns.get((GLOBAL_DATABASE_NAME, schema, table), [])
                lost += (
                    [f"{table}.{c}" for c in old_columns if c not in new_columns] if new_columns else [table]
                )
                common = ", ".join(_quoted(c) for c in old_columns if c in new_columns)
                if common:
                    name = f"{_quoted(schema)}.{_quoted(table)}"
                    cur.execute(
                        f"insert into {GLOBAL_DATABASE_NAME}.{name} ({common}) "
                        f"select {common} from _sim_old_global.{name}"
                    )
            self._record_layout(cur, layout)
            cur.execute(f"checkpoint {GLOBAL_DATABASE_NAME}")
        finally:
            cur.execute("detach database if exists _sim_old_global")
        os.remove(old)
        log.warning(
            "rebuilt fakesnow's global catalog %s: it was made by fakesnow %s with another layout%s",
            file,
            made_by,
            f"; dropped what this fakesnow no longer keeps: {', '.join(lost)}" if lost else "",
        )

    def _undo_interrupted_rebuild(self) -> None:
        """Put back the global catalog a rebuild stopped half way left as ``.old`` (see ``_rebuild_global``)."""
        file = Path(self._global_file())
        old = file.with_name(file.name + ".old")
        if not old.exists():
            return
        for partial in (file, file.with_name(file.name + ".wal")):
            partial.unlink(missing_ok=True)
        os.replace(old, file)
        log.warning("restored %s: rebuilding it had stopped half way; it is rebuilt again when needed", file)

    def _migrate_legacy_schemas(self) -> None:
        """Move the tables of a home made before databases were catalogs (Snowflake's ``DB.SCHEMA`` was the
        schema ``DB__SCHEMA`` of the account file) into their databases; logged once."""
        cur = self._con.cursor()
        try:
            legacy = [
                str(r[0])
                for r in cur.execute(
                    "select schema_name from duckdb_schemas() where database_name = ? and contains(schema_name, '__')",
                    [self._main],
                ).fetchall()
            ]
            if not legacy:
                return
            recorded: dict[str, tuple[str, str]] = {}
            if cur.execute(
                "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'main' "
                "and table_name = 'SIM_OBJECTS'",
                [self._main],
            ).fetchone()[0]:
                for (name,) in cur.execute("select NAME from SIM_OBJECTS where KIND = 'SCHEMA'").fetchall():
                    try:
                        db, sc = normalize_qualified(str(name), "schema")
                    except (InvalidName, ValueError):
                        continue
                    recorded[f"{db}__{sc}"] = (db, sc)
            views = cur.execute(
                "select schema_name || '.' || view_name from duckdb_views() where database_name = ? "
                "and list_contains(?, schema_name)",
                [self._main, legacy],
            ).fetchall()
            if views:
                raise BackendUnavailable(
                    f"the simulator home {self.home} was made by an older version and holds views "
                    f"({', '.join(v[0] for v in views)}) that cannot be moved to its databases; move the home "
                    "aside and run `python -m app setup -f` to make a new one"
                )
            moved = 0
            for schema in legacy:
                database, name = _legacy_schema(schema, recorded)
                self.attach_database(cur, database)
                target = f"{_quoted(database)}.{_quoted(name)}"
                cur.execute(f"create schema if not exists {target}")
                for (table,) in cur.execute(
                    "select table_name from duckdb_tables() where database_name = ? and schema_name = ?",
                    [self._main, schema],
                ).fetchall():
                    # Copies first, each committed in the database it writes (a transaction writes one
                    # database); the old schemas go last, so a crash in between only repeats the copies.
                    cur.execute(
                        f"create or replace table {target}.{_quoted(table)} as select * from "
                        f"{_quoted(self._main)}.{_quoted(schema)}.{_quoted(table)}"
                    )
                    moved += 1
            cur.execute("begin transaction")
            for schema in legacy:
                cur.execute(f"drop schema {_quoted(self._main)}.{_quoted(schema)} cascade")
            cur.execute("commit")
            log.warning(
                "moved %d table(s) of %s from the account file into its databases (%s): the home was made by an "
                "older version",
                moved,
                self.home,
                ", ".join(sorted({_legacy_schema(s, recorded)[0] for s in legacy})),
            )
        finally:
            cur.close()

    @property
    def is_new(self) -> bool:
        """True until something created the ``ACCOUNT_INFO`` marker (``setup`` does)."""
        with self.cursor() as cur:
            return not cur.execute(
                "select count(*) from duckdb_tables() where database_name = ? and table_name = 'ACCOUNT_INFO'",
                [self._main],
            ).fetchone()[0]

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for this thread; statements run under the account lock so writers never interleave."""
        if self._closed:
            raise BackendUnavailable(f"the simulator account at {self.home} is closed")
        with self.lock:
            me = threading.get_ident()
            with self._guard:
                if me in self._interrupted:
                    raise BackendUnavailable(
                        f"the simulator account at {self.home} refuses statements of an interrupted task "
                        "(it ran past its time limit)"
                    )
                outer = self._interruptible.get(me)
                cur = self._con.cursor()
                if me in self._interruptible:
                    self._interruptible[me] = cur
            try:
                yield cur
            except duckdb.Error as exc:  # damage found by any statement names its file, wherever it was read
                if (damage := damaged(exc, self.database_files())) is not None:
                    raise damage from exc
                raise
            finally:
                with self._guard:
                    if me in self._interruptible:
                        self._interruptible[me] = outer
                cur.close()

    def checkpoint(self) -> bool:
        """Fold each database's write-ahead log into its file (DuckDB checkpoints by itself only past 16 MiB of
        log); True when done. Best effort: skipped, not waited for, while another cursor has a transaction open
        (DuckDB refuses then; FORCE CHECKPOINT would abort that transaction)."""
        with self.cursor() as cur:
            files = [
                str(name)
                for (name,) in cur.execute(
                    "select database_name from duckdb_databases() where path is not null and not readonly"
                ).fetchall()
            ]
            try:
                for name in files:
                    cur.execute(f"checkpoint {_quoted(name)}")
            except duckdb.TransactionException as exc:
                log.debug("checkpoint of %s skipped: %s", self.home, exc)
                return False
        return True

    def session_cursor(self) -> duckdb.DuckDBPyConnection:
        """A long-lived cursor for one SQL session: its current database and schema and its temporary tables
        live on it. Unlike ``cursor()`` it takes no lock and is not closed for the caller: run each statement
        inside ``cursor()`` (the account lock) and close it when the session ends."""
        if self._closed:
            raise BackendUnavailable(f"the simulator account at {self.home} is closed")
        return self._con.cursor()

    @contextmanager
    def interruptible(self) -> Iterator[int]:
        """Mark this thread's statements as interruptible by ``interrupt(thread_id)``; yields the thread id."""
        me = threading.get_ident()
        with self._guard:
            self._interruptible[me] = None
        try:
            yield me
        finally:
            with self._guard:
                self._interruptible.pop(me, None)
                self._interrupted.discard(me)

    def interrupt(self, thread_id: int) -> None:
        """Stop the statement an interruptible thread is running, and refuse its later ones.

        Never waits for the account lock, so a task over its time limit can be stopped while it holds it.
        """
        with self._guard:
            if thread_id not in self._interruptible:
                return
            self._interrupted.add(thread_id)
            cur = self._interruptible[thread_id]
        if cur is not None:
            # DuckDB's interrupt only stops a statement that is already running, and the thread may be just
            # about to start one on this cursor: keep interrupting until the thread lets go of the cursor.
            threading.Thread(
                target=self._interrupt_until_released, args=(thread_id, cur), name="interrupt", daemon=True
            ).start()

    def _interrupt_until_released(self, thread_id: int, cur: duckdb.DuckDBPyConnection) -> None:
        deadline = time.monotonic() + _INTERRUPT_SECONDS
        while time.monotonic() < deadline:
            with self._guard:
                if self._interruptible.get(thread_id) is not cur:
                    return
            cur.interrupt()
            time.sleep(0.02)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing: commit when the block ends, roll back if it raises."""
        with self.cursor() as cur:
            cur.execute("begin transaction")
            try:
                yield cur
            except BaseException:
                cur.execute("rollback")
                raise
            cur.execute("commit")

    def path(self, *parts: str) -> Path:
        """A path in the files area, with its parent folder created."""
        p = self.files.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` first when the account closes, while its connection is still open (e.g. to stop a
        SQL server that uses it). Callbacks run in registration order; one that fails is logged and the others
        still run."""
        self._on_close.append(callback)

    def _run_on_close(self) -> None:
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one failing callback must not keep the account (and its lock) open
                log.exception("a close callback of the simulator account at %s failed", self.home)

    def close(self) -> None:
        if self._closed:
            return
        self._run_on_close()
        if self._closed:  # a callback closed the account itself
            return
        self._closed = True  # cursor() refuses new statements from here on
        # Another thread may still be running a statement on this connection (a run's last history write, an
        # abandoned task); DuckDB refuses to close under it ("connection is busy"), so wait for the account lock
        # that every statement holds, and interrupt a statement that outlasts the wait.
        locked = self.lock.acquire(timeout=CLOSE_WAIT_SECONDS)
        try:
            if not locked:  # a task statement past the wait: stop it, as a task timeout does
                with self._guard:
                    threads = list(self._interruptible)
                for thread_id in threads:
                    self.interrupt(thread_id)
            stub = (
                self._made
                if locked and self._made is not None and (self._discard or self._holds_nothing())
                else None
            )
            self._close_connection()
        finally:
            if locked:
                self.lock.release()
        if self._temporary:
            shutil.rmtree(self.home, ignore_errors=True)
        elif stub is not None:
            shutil.rmtree(stub, ignore_errors=True)

    def discard_on_close(self) -> None:
        """Remove the folder this account made when it closes, whatever it holds: the first ``setup`` failed half
        way, so everything in it is that command's (a folder that existed before is always kept)."""
        self._discard = True

    def _close_connection(self) -> None:
        deadline = time.monotonic() + CLOSE_WAIT_SECONDS
        while True:
            try:
                self._con.close()
                return
            except duckdb.ResourceInUseException:
                if time.monotonic() >= deadline:
                    raise BackendUnavailable(
                        f"the simulator account at {self.home} cannot close: a statement of another thread is "
                        "still running on it"
                    ) from None
                time.sleep(0.05)

    def _holds_nothing(self) -> bool:
        """No file, no view and no table with a row: only the empty catalogs opening the account made."""
        try:
            if any(self.files.iterdir()):
                return False
            cur = self._con.cursor()
            try:
                tables = stored_tables(cur)
                (own,) = cur.execute("select current_database()").fetchone()
                return all(
                    # the engine's own views over its history (TASK_HISTORY, …) hold nothing of their own
                    (kind == "VIEW" and (catalog, schema) == (own, "main"))
                    or (
                        kind == "BASE TABLE"
                        and not cur.execute(
                            f"select count(*) from {_quoted(catalog)}.{_quoted(schema)}.{_quoted(name)}"
                        ).fetchone()[0]
                    )
                    for catalog, schema, name, kind in tables
                )
            finally:
                cur.close()
        except (OSError, duckdb.Error):  # when in doubt, keep the folder
            return False

    def __enter__(self) -> LocalAccount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
