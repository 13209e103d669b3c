"""Snowflake databases are attached DuckDB catalogs, as fakesnow keeps them: what setup creates is reachable as
``DB.SCHEMA.TABLE`` from a fakesnow connection on the account's own DuckDB connection (fakesnow/conn.py
``FakeSnowflakeConnection.__init__`` with ``db_path``), and survives a restart."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from fakesnow.conn import FakeSnowflakeConnection

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import ensure_database, ensure_schema, object_exists
from adapters.simulator.setup import setup_account
from domain.errors import BackendUnavailable, InvalidName

ROWS = 800


def _fakesnow(account: LocalAccount, cur: duckdb.DuckDBPyConnection) -> FakeSnowflakeConnection:
    return FakeSnowflakeConnection(cur, {}, "SNOWBANK", "DATA", db_path=account.databases)


def test_task_sql_through_fakesnow_reads_the_source_table_setup_loaded(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account:
        report = setup_account(account, rows=ROWS)
        with account.cursor() as cur:
            rows = (
                _fakesnow(account, cur)
                .cursor()
                .execute("select count(*) from SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA")
                .fetchone()
            )

    assert rows == (report.row_count,)


def test_information_schema_tables_lists_the_source_table(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account:
        setup_account(account, rows=ROWS)
        with account.cursor() as cur:
            tables = (
                _fakesnow(account, cur)
                .cursor()
                .execute(
                    "select table_schema, table_name from information_schema.tables where table_schema = 'DATA' "
                    "and table_name = 'MORTGAGE_LENDING_DEMO_DATA'"
                )
                .fetchall()
            )

    assert tables == [("DATA", "MORTGAGE_LENDING_DEMO_DATA")]


def test_databases_and_their_tables_survive_a_restart(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account:
        report = setup_account(account, rows=ROWS)

    with LocalAccount(tmp_path) as again, again.cursor() as cur:
        assert (tmp_path / "databases" / "SNOWBANK.db").is_file()
        assert object_exists(cur, "SCHEMA", "SNOWBANK.DATA")
        count = cur.execute("select count(*) from SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA").fetchone()
    assert count == (report.row_count,)


def test_a_database_created_by_task_sql_exists_for_the_simulator_and_after_a_restart(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account, account.cursor() as cur:
        account.ensure_fakesnow(cur)  # as the SQL server does before its first session
        conn = FakeSnowflakeConnection(cur, {}, db_path=account.databases)
        conn.cursor().execute("create database ANALYTICS")
        conn.cursor().execute("create schema ANALYTICS.RAW")
        conn.cursor().execute("create table ANALYTICS.RAW.T as select 1 as X")

    with LocalAccount(tmp_path) as again, again.cursor() as cur:
        assert object_exists(cur, "DATABASE", "ANALYTICS") and object_exists(cur, "SCHEMA", "ANALYTICS.RAW")
        assert cur.execute("select X from ANALYTICS.RAW.T").fetchall() == [(1,)]


def test_a_temporary_accounts_databases_are_in_memory() -> None:
    with LocalAccount(None) as account, account.cursor() as cur:
        ensure_database(account, cur, "SCRATCH")
        ensure_schema(cur, "SCRATCH", "S")
        cur.execute("create table SCRATCH.S.T as select 1 as X")
        path = cur.execute("select path from duckdb_databases() where database_name = 'SCRATCH'").fetchone()

    assert path == (None,)


def test_a_database_name_fakesnow_cannot_write_is_refused_naming_it() -> None:
    with LocalAccount(None) as account, account.cursor() as cur, pytest.raises(InvalidName, match="'my db'"):
        ensure_database(account, cur, '"my db"')


def test_a_second_process_is_told_the_home_is_in_use_also_with_databases(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account:
        setup_account(account, rows=ROWS)
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from adapters.simulator.account.home import LocalAccount; a = LocalAccount({str(tmp_path)!r}); "
         "print('ready', flush=True); input()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(BackendUnavailable, match="in use by another process"):
            LocalAccount(tmp_path)
        # The database files are locked too: no other process can write SNOWBANK behind the account's back.
        with pytest.raises(duckdb.IOException, match=r"[Ll]ock"):
            duckdb.connect(str(tmp_path / "databases" / "SNOWBANK.db"))
    finally:
        holder.communicate("\n", timeout=30)


def _legacy_home(home: Path) -> None:
    """A home as the simulator wrote it before databases were catalogs: ``DB.SCHEMA`` as schema ``DB__SCHEMA``."""
    con = duckdb.connect(str(home / "account.duckdb"))
    con.execute(
        "create table SIM_OBJECTS (KIND varchar not null, NAME varchar not null, CREATED_ON timestamp not null)"
    )
    con.execute(
        "insert into SIM_OBJECTS values ('DATABASE', 'SNOWBANK', now()), ('SCHEMA', 'SNOWBANK.DATA', now())"
    )
    con.execute('create schema "SNOWBANK__DATA"')
    con.execute(
        'create table "SNOWBANK__DATA"."MORTGAGE_LENDING_DEMO_DATA" as select range as LOAN_ID from range(5)'
    )
    con.close()


def test_a_home_from_before_databases_has_its_tables_moved_into_them_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _legacy_home(tmp_path)

    with caplog.at_level(logging.WARNING), LocalAccount(tmp_path) as account, account.cursor() as cur:
        moved = cur.execute("select count(*) from SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA").fetchone()
        legacy = cur.execute(
            "select count(*) from duckdb_schemas() where schema_name = 'SNOWBANK__DATA'"
        ).fetchone()
    assert moved == (5,) and legacy == (0,)
    assert [r.getMessage() for r in caplog.records if "older version" in r.getMessage()] == [
        f"moved 1 table(s) of {tmp_path} from the account file into its databases (SNOWBANK): the home was made "
        "by an older version"
    ]

    caplog.clear()
    with caplog.at_level(logging.WARNING), LocalAccount(tmp_path):
        pass
    assert "older version" not in caplog.text


def test_a_user_table_named_account_info_does_not_make_a_new_account_look_set_up() -> None:
    with LocalAccount(None) as account:
        with account.cursor() as cur:
            ensure_database(account, cur, "APP")
            ensure_schema(cur, "APP", "S")
            cur.execute("create table APP.S.ACCOUNT_INFO as select 1 as X")

        assert account.is_new
