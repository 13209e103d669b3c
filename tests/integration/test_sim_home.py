"""The local account's home folder: it survives restarts, and an unusable or busy home is a clear error."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from adapters.simulator.account.home import LocalAccount
from domain.errors import BackendUnavailable


def test_what_is_written_survives_a_restart(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account, account.cursor() as cur:
        cur.execute("create table T as select 42 as X")

    with LocalAccount(tmp_path) as again, again.cursor() as cur:
        assert cur.execute("select X from T").fetchall() == [(42,)]


def test_a_second_process_on_the_same_home_is_told_it_is_in_use(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from adapters.simulator.account.home import LocalAccount; a = LocalAccount({str(tmp_path)!r}); "
         "print('ready', flush=True); input()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(BackendUnavailable, match="in use by another process"):
            LocalAccount(tmp_path)
    finally:
        holder.communicate("\n", timeout=30)


def test_a_home_that_is_a_file_is_refused_with_its_path(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")

    with pytest.raises(BackendUnavailable, match=f"{not_a_folder} cannot be used"):
        LocalAccount(not_a_folder)


def test_a_database_file_that_is_not_duckdb_is_refused(tmp_path: Path) -> None:
    (tmp_path / "account.duckdb").write_text("not a database")

    with pytest.raises(BackendUnavailable, match="cannot be opened"):
        LocalAccount(tmp_path)


def test_a_truncated_database_file_reads_damaged_naming_the_file_and_what_to_do(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account, account.cursor() as cur:
        cur.execute("create table T as select range as X from range(100000)")
    database = tmp_path / "account.duckdb"
    with database.open("r+b") as file:
        file.truncate(database.stat().st_size // 2)

    with pytest.raises(BackendUnavailable, match=f"database {database} is damaged") as err:
        LocalAccount(tmp_path)
    assert "restore it from a backup" in str(err.value) and "run setup" in str(err.value)


def test_a_temporary_account_leaves_nothing_behind() -> None:
    account = LocalAccount(None)
    home = account.home

    account.close()

    assert not home.exists()


def test_an_interrupt_just_before_a_statement_starts_still_stops_it() -> None:
    import threading

    import duckdb

    account = LocalAccount(None)
    ready, go, outcome = threading.Event(), threading.Event(), {}

    def task() -> None:
        with account.interruptible() as me, account.cursor() as cur:
            outcome["thread"] = me
            ready.set()
            go.wait(30)
            try:  # a statement that would run for minutes
                cur.execute("select count(*) from range(40000000000) t(i) where i % 7 = 3").fetchall()
                outcome["result"] = "finished"
            except duckdb.InterruptException:
                outcome["result"] = "interrupted"

    worker = threading.Thread(target=task)
    worker.start()
    try:
        assert ready.wait(30)
        account.interrupt(outcome["thread"])  # the cursor is registered, the statement not yet started
        go.set()
        worker.join(30)
        assert outcome.get("result") == "interrupted"
    finally:
        go.set()
        worker.join(120)
        account.close()


def test_closing_waits_for_a_statement_another_thread_is_running(tmp_path: Path) -> None:
    account = LocalAccount(tmp_path / "home")
    started, finished = threading.Event(), threading.Event()

    def long_statement() -> None:
        with account.cursor() as cur:
            started.set()
            cur.execute("select count(*) from range(100000000) t(i) where i % 7 = 3").fetchall()
        finished.set()

    worker = threading.Thread(target=long_statement)
    worker.start()
    assert started.wait(10)
    time.sleep(0.05)  # the statement is running on the account's connection

    account.close()  # DuckDB refuses to close a connection under a running statement ("busy")

    assert finished.is_set()
    worker.join(10)


def test_a_checkpoint_folds_the_account_and_database_logs_into_their_files(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account:
        with account.cursor() as cur:
            account.attach_database(cur, "LAKE")
            cur.execute("create table T as select range as X from range(1000)")
            cur.execute("create table LAKE.main.T as select range as X from range(1000)")
        logs = [tmp_path / "account.duckdb.wal", tmp_path / "databases" / "LAKE.db.wal"]
        assert all(log.exists() and log.stat().st_size > 0 for log in logs)

        assert account.checkpoint()

        assert [log.exists() and log.stat().st_size for log in logs] == [False, False]


def test_a_checkpoint_is_skipped_while_another_cursor_has_a_transaction_open(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account:
        writer = account.session_cursor()
        writer.execute("begin transaction")
        writer.execute("create table T as select 1 as X")
        try:
            assert not account.checkpoint()
        finally:
            writer.execute("rollback")
            writer.close()
