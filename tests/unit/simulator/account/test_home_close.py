"""What closing the local account runs first, and the settings its DuckDB connection is opened with."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.simulator.account.home import GLOBAL_DATABASE_NAME, LocalAccount


def test_close_callbacks_run_in_order_while_the_connection_is_still_open() -> None:
    account = LocalAccount(None)
    seen: list[tuple[str, int]] = []

    def read(label: str) -> None:
        with account.cursor() as cur:
            seen.append((label, cur.execute("select 1").fetchone()[0]))

    account.on_close(lambda: read("first"))
    account.on_close(lambda: read("second"))
    account.close()

    assert seen == [("first", 1), ("second", 1)]


def test_a_failing_close_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = LocalAccount(None)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("server would not stop")

    account.on_close(fail)
    account.on_close(lambda: ran.append("after"))
    with caplog.at_level(logging.ERROR):
        account.close()

    assert ran == ["after"]
    assert "close callback" in caplog.text and "server would not stop" in caplog.text


def test_a_callback_runs_once_even_when_close_is_called_again() -> None:
    account = LocalAccount(None)
    ran: list[str] = []
    account.on_close(lambda: ran.append("x"))

    account.close()
    account.close()

    assert ran == ["x"]


def test_a_home_account_attaches_databases_from_its_databases_folder(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account:
        assert account.databases == tmp_path / "databases"
        assert account.databases.is_dir()


def test_a_temporary_account_has_no_databases_folder() -> None:
    with LocalAccount(None) as account:
        assert account.databases is None


def test_the_connection_has_fakesnows_settings() -> None:
    # fakesnow/instance.py FakeSnow.__init__: UTC, the _fs_global catalog with its SHOW views, arrow lambdas.
    with LocalAccount(None) as account, account.cursor() as cur:
        assert cur.execute("select current_setting('TimeZone')").fetchone()[0] == "UTC"
        account.ensure_fakesnow(cur)  # its global objects are made when fakesnow is first needed
        assert (
            cur.execute(
                "select count(*) from duckdb_views() where database_name = '_fs_global' and view_name = '_fs_show_tables'"
            ).fetchone()[0]
            == 1
        )
        assert cur.execute("select list_transform([1, 2], x -> x + 1)").fetchone()[0] == [2, 3]


def test_the_global_catalog_is_named_as_fakesnow_names_it() -> None:
    from fakesnow.instance import GLOBAL_DATABASE_NAME as FAKESNOWS

    assert GLOBAL_DATABASE_NAME == FAKESNOWS
