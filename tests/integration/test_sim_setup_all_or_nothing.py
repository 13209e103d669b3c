"""Setup is all or nothing (issue 13 item 10): a full disk at any write leaves a table whose rows, recorded
version and the data version a run derives agree — the old ones, or (past the table's commit) the new ones —
and a failed first setup leaves no home on a path it made."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from adapters.simulator import setup as sim_setup
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.feature_store.source_tables import describe_table
from adapters.simulator.feature_store.store import SimFeatureStore
from adapters.simulator.setup import setup_account
from domain.errors import DomainError

TABLE = "SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA"
OLD_ROWS, NEW_ROWS = 300, 400


def _disk_full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


class _FullFromHere:
    """Forwards a DuckDB cursor; from the ``fail_at``-th statement after the source table's CREATE OR REPLACE,
    every statement fails as on a full disk (a failing COMMIT rolls back first, as DuckDB's does)."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, state: dict[str, int]) -> None:
        self._cur, self._state = cur, state

    def execute(self, sql: str, *args: Any) -> Any:
        state = self._state
        text = sql.strip().lower()
        if state["seen"] >= 0 and text != "rollback":
            state["seen"] += 1
            if state["seen"] >= state["fail_at"]:
                if text == "commit":
                    self._cur.execute("rollback")
                raise _disk_full()
        result = self._cur.execute(sql, *args)
        if text.startswith("create or replace table") and "mortgage_lending_demo_data" in text:
            state["seen"] = 0
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def _data(account: LocalAccount) -> tuple[int, str, str]:
    """Rows in the table, the version recorded for it, and the data version prepare_data derives."""
    with account.cursor() as cur:
        (rows,) = cur.execute(f"select count(*) from {TABLE}").fetchone()
    recorded = describe_table(account, TABLE)
    assert recorded.row_count == rows, "the recorded row count disagrees with the rows"
    return rows, recorded.version, SimFeatureStore(account).source_version(TABLE)


def _reload_on_a_full_disk(account: LocalAccount, monkeypatch: pytest.MonkeyPatch, fail_at: int) -> None:
    state = {"seen": -1, "fail_at": fail_at}
    real_cursor = LocalAccount.cursor

    @contextmanager
    def full_disk_cursor(self: LocalAccount) -> Iterator[Any]:
        with real_cursor(self) as cur:
            yield _FullFromHere(cur, state)

    with monkeypatch.context() as patched:
        patched.setattr(LocalAccount, "cursor", full_disk_cursor)
        with pytest.raises((OSError, DomainError)):
            setup_account(account, rows=NEW_ROWS, force=True)


@pytest.mark.parametrize("fail_at", range(1, 9))
def test_a_full_disk_at_any_write_of_a_reload_leaves_rows_and_data_version_agreeing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    with LocalAccount(tmp_path) as account:
        setup_account(account, rows=OLD_ROWS)
        old = _data(account)

        _reload_on_a_full_disk(account, monkeypatch, fail_at)

        after = _data(account)
        assert after == old or (after[0] == NEW_ROWS and after[1] != old[1] and after[1] == after[2])


def test_a_reload_whose_version_cannot_be_written_keeps_the_old_rows_and_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The third statement after the rows: the version used to be written there, after their commit.
    with LocalAccount(tmp_path) as account:
        setup_account(account, rows=OLD_ROWS)
        old = _data(account)

        _reload_on_a_full_disk(account, monkeypatch, 3)

        assert _data(account) == old


def test_a_first_setup_that_fails_after_loading_the_table_leaves_no_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "new" / "home"

    def disk_full(*_: object) -> None:
        raise _disk_full()

    monkeypatch.setattr(sim_setup, "_record_info", disk_full)  # the write after the table's
    with LocalAccount(home) as account, pytest.raises(DomainError, match="no space left"):
        setup_account(account, rows=OLD_ROWS)

    assert not (tmp_path / "new").exists()


def test_a_failed_setup_on_a_home_made_before_keeps_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalAccount(tmp_path) as account:
        setup_account(account, rows=OLD_ROWS)
        old = _data(account)

    def disk_full(*_: object) -> None:
        raise _disk_full()

    monkeypatch.setattr(sim_setup, "_record_info", disk_full)
    with LocalAccount(tmp_path) as account, pytest.raises(DomainError, match="no space left"):
        setup_account(account, rows=OLD_ROWS)

    with LocalAccount(tmp_path) as account:
        assert _data(account) == old


def test_a_home_whose_versions_are_only_in_the_old_catalog_reads_them_and_moves_them_on_reload(
    tmp_path: Path,
) -> None:
    with LocalAccount(tmp_path) as account:
        setup_account(account, rows=OLD_ROWS)
        version = describe_table(account, TABLE).version
        info = describe_table(account, TABLE)
        with account.cursor() as cur:  # what a home from before kept: no comment, a SIM_TABLES row
            cur.execute(f"comment on table {TABLE} is null")
            cur.execute(
                "create table SIM_TABLES (DATABASE_NAME varchar, SCHEMA_NAME varchar, TABLE_NAME varchar, "
                "CREATED_ON timestamp, LAST_ALTERED timestamp, ROW_COUNT bigint)"
            )
            cur.execute(
                "insert into SIM_TABLES values ('SNOWBANK', 'DATA', 'MORTGAGE_LENDING_DEMO_DATA', ?, ?, ?)",
                [info.created_on, info.last_altered, OLD_ROWS],
            )

    with LocalAccount(tmp_path) as account:
        assert _data(account) == (OLD_ROWS, version, version)
        report = setup_account(account, rows=NEW_ROWS, force=True)

        assert _data(account) == (NEW_ROWS, report.data_version, report.data_version)
        assert report.data_version > version
        with account.cursor() as cur:
            assert not cur.execute(
                "select count(*) from duckdb_tables() where table_name = 'SIM_TABLES'"
            ).fetchone()[0]
