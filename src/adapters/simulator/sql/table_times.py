"""``INFORMATION_SCHEMA.TABLES`` with real ``CREATED`` and ``LAST_ALTERED`` (docs: sql-reference/info-schema/tables:
LAST_ALTERED is "the last time the table was altered by a DDL or DML operation").

After each successful statement that writes a table — CREATE (and CTAS), INSERT, UPDATE, DELETE, MERGE, COPY INTO,
TRUNCATE, ALTER, DROP; Snowpark's ``save_as_table`` and ``write_pandas`` arrive as such statements — its row in
the table's database (account/table_times.py) is written in the statement's own transaction: the server runs
``recorded`` around fakesnow's ``_execute``, on the DuckDB statement fakesnow made (fakesnow/cursor.py
``_execute``), so MERGE's parts and fakesnow's resolved names are what is seen. This is not a statement rule of
hooks.py: those rewrite the text before fakesnow runs it, and this row must follow the statement's success.

Reading: ``information_schema_fs`` (installed by patches.py in place of fakesnow/transforms/transforms.py
``information_schema_fs``) serves ``INFORMATION_SCHEMA.TABLES`` as fakesnow's view joined with those rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
from fakesnow.transforms import information_schema_fs as _fakesnow_information_schema_fs
from sqlglot import exp

from adapters.simulator.account import table_times
from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.home import GLOBAL_DATABASE_NAME


@dataclass(frozen=True)
class Write:
    kind: str  # "create", "create if missing", "alter", "rename", "drop"
    database: str
    schema: str
    table: str | None  # None: every table of the schema (DROP SCHEMA)
    new_name: str | None = None  # for "rename"


def writes(statement: exp.Expr, database: str | None, schema: str | None) -> list[Write]:
    """The tables ``statement`` (a DuckDB-side statement of fakesnow's) writes, with the session's current database
    and schema filling in unqualified names; temporary tables and fakesnow's own catalogs are left out."""

    def write(kind: str, table: exp.Expr | None, new_name: str | None = None) -> list[Write]:
        if isinstance(table, exp.Schema):
            table = table.this
        if not isinstance(table, exp.Table) or not table.name:
            return []
        db, sc = table.catalog or database, table.db or schema
        if db is None or sc is None or db == GLOBAL_DATABASE_NAME or sc.lower() == table_times.FS_SCHEMA:
            return []
        return [Write(kind, db, sc, table.name, new_name)]

    if isinstance(statement, exp.Create) and statement.kind == "TABLE":
        properties = statement.args.get("properties")
        if properties is not None and properties.find(exp.TemporaryProperty):
            return []
        kind = "create if missing" if statement.args.get("exists") else "create"
        return write(kind, statement.this)
    if isinstance(statement, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Copy)):
        return write("alter", statement.this)
    if isinstance(statement, exp.TruncateTable):
        return [w for t in statement.expressions for w in write("alter", t)]
    if isinstance(statement, exp.Alter) and statement.kind == "TABLE":
        actions = statement.args.get("actions") or []
        rename = next((a for a in actions if isinstance(a, exp.AlterRename)), None)
        if rename is not None and isinstance(rename.this, exp.Table):
            return write("rename", statement.this, rename.this.name)
        return write("alter", statement.this)
    if isinstance(statement, exp.Drop) and statement.kind == "TABLE":
        return [w for t in statement.args.get("tables") or [] for w in write("drop", t)]
    if isinstance(statement, exp.Drop) and statement.kind == "SCHEMA":
        dropped = []
        for t in statement.args.get("tables") or []:
            db = t.catalog or database
            if db and t.db and db != GLOBAL_DATABASE_NAME:
                dropped.append(Write("drop", db, t.db, None))
        return dropped
    return []


def _exists(duck: duckdb.DuckDBPyConnection, write: Write, name: str | None) -> bool:
    # a name the session resolved may be its temporary table, which has no row (nor does Snowflake keep one)
    row = duck.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = ? and table_name = ? "
        "and not temporary",
        [write.database, write.schema, name],
    ).fetchone()
    return bool(row and row[0])


def _record(duck: duckdb.DuckDBPyConnection, done: list[Write], existed: set[Write]) -> None:
    now = catalog_now()
    for w in done:
        assert w.table is not None or w.kind == "drop"
        if w.kind == "drop":
            table_times.dropped(duck, w.database, w.schema, w.table)
        elif w.kind == "rename" and w.new_name is not None and _exists(duck, w, w.new_name):
            table_times.renamed(duck, w.database, w.schema, w.table or "", w.new_name, now)
        elif not _exists(duck, w, w.table):
            continue
        elif w.kind == "create" or (w.kind == "create if missing" and w not in existed):
            table_times.created(duck, w.database, w.schema, w.table or "", now)
        elif w.kind == "alter":
            table_times.altered(duck, w.database, w.schema, w.table or "", now)


@contextlib.contextmanager
def recorded(
    duck: duckdb.DuckDBPyConnection,
    statement: exp.Expr,
    location: tuple[str | None, str | None],
    autocommit: bool,
) -> Iterator[None]:
    """Run the block (the statement) and write the rows of the tables it wrote, in one transaction of their
    database: the session's open transaction if there is one (they commit or roll back with it), else one begun
    here. With AUTOCOMMIT off fakesnow begins and commits around DDL and DML itself (fakesnow/cursor.py
    ``_execute``): the rows then follow the statement in the transaction fakesnow left open, or right after it.
    fakesnow writes its own global catalog within some CREATE TABLEs (a comment, VARCHAR lengths): those rows
    follow right after the statement, as one transaction cannot write two databases."""
    done = writes(statement, *location)
    if not done:
        yield
        return
    existed = {w for w in done if w.kind == "create if missing" and _exists(duck, w, w.table)}
    spans_two = bool(statement.args.get("table_comment") or statement.args.get("text_lengths"))
    own = autocommit and not spans_two and _begin(duck)
    try:
        yield
        _record(duck, done, existed)
    except BaseException:
        if own:
            duck.execute("rollback")
        raise
    if own:
        duck.execute("commit")


def _begin(duck: duckdb.DuckDBPyConnection) -> bool:
    """Begin a transaction; False when the session has one open already (BEGIN it sent)."""
    try:
        duck.execute("begin transaction")
    except duckdb.TransactionException:
        return False
    return True


def information_schema_fs(expression: exp.Expr) -> exp.Expr:
    """fakesnow's redirect of ``INFORMATION_SCHEMA.<view>`` (fakesnow/transforms/transforms.py
    ``information_schema_fs``), with TABLES' CREATED and LAST_ALTERED read from the table times."""
    is_tables = (
        isinstance(expression, exp.Table)
        and expression.db == "INFORMATION_SCHEMA"
        and expression.name == "TABLES"
    )
    catalog = expression.args.get("catalog") if is_tables else None
    alias = expression.args.get("alias") if is_tables else None
    redirected = _fakesnow_information_schema_fs(expression)
    if not is_tables:
        return redirected
    view = redirected.copy()
    view.set("alias", None)
    qualifier = f"{catalog.sql(dialect='duckdb')}." if isinstance(catalog, exp.Identifier) else ""
    times = f"{qualifier}{table_times.FS_SCHEMA}.{table_times.TABLE}"
    query: exp.Expr = exp.maybe_parse(
        f"select t.* replace (coalesce(x.CREATED::timestamptz, t.CREATED) as CREATED, "
        "coalesce(x.LAST_ALTERED::timestamptz, t.LAST_ALTERED) as LAST_ALTERED) "
        f"from {view.sql(dialect='duckdb')} as t left join {times} as x "
        "on x.TABLE_SCHEMA = t.TABLE_SCHEMA and x.TABLE_NAME = t.TABLE_NAME",
        dialect="duckdb",
    )
    return exp.Subquery(
        this=query,
        alias=alias.copy() if alias is not None else exp.TableAlias(this=exp.to_identifier("TABLES")),
    )
