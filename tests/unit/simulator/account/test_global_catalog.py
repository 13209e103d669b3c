"""fakesnow's global catalog ``_fs_global`` (stages, file formats, users, table comments: fakesnow/info_schema.py
``fs_global_creation_sql``) is a file of the home, made with fakesnow's own creation SQL and rebuilt when a
fakesnow with another layout opens it (account/home.py ``LocalAccount.ensure_fakesnow``)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from fakesnow import info_schema

from adapters.simulator.account.home import GLOBAL_DATABASE_FILE, LocalAccount

STAGE_ROW = (
    "insert into _fs_global._fs_information_schema._fs_stages (created_on, name, database_name, schema_name, type) "
    "values (now(), 'INBOX', 'LANDING', 'RAW', 'INTERNAL')"
)
USER_ROW = "insert into _fs_global._fs_information_schema._fs_users (name) values ('ANALYST')"


def _stages(account: LocalAccount) -> list[tuple[str, ...]]:
    with account.cursor() as cur:
        account.ensure_fakesnow(cur)
        return cur.execute(
            "select name, database_name, schema_name from _fs_global._fs_information_schema._fs_stages"
        ).fetchall()


def test_stages_and_users_of_the_global_catalog_survive_reopening_the_home(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account, account.cursor() as cur:
        account.ensure_fakesnow(cur)
        cur.execute(STAGE_ROW)
        cur.execute(USER_ROW)
    assert (tmp_path / "databases" / GLOBAL_DATABASE_FILE).is_file()
    with LocalAccount(tmp_path) as account:
        assert _stages(account) == [("INBOX", "LANDING", "RAW")]
        with account.cursor() as cur:
            assert cur.execute("select name from _fs_global._fs_information_schema._fs_users").fetchall() == [
                ("ANALYST",)
            ]


def test_a_fakesnow_with_another_layout_rebuilds_the_catalog_and_keeps_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with LocalAccount(tmp_path) as account, account.cursor() as cur:
        account.ensure_fakesnow(cur)
        cur.execute(STAGE_ROW)
    # an upgraded fakesnow: a new column in its stage table, which "create table if not exists" would never add
    upgraded = info_schema.SQL_CREATE_GLOBAL_INFORMATION_SCHEMA_STAGES_TABLE.replace(
        "directory_enabled TEXT,", "directory_enabled TEXT, privatelink TEXT DEFAULT 'N',"
    )
    monkeypatch.setattr(info_schema, "SQL_CREATE_GLOBAL_INFORMATION_SCHEMA_STAGES_TABLE", upgraded)
    with LocalAccount(tmp_path) as account:
        assert _stages(account) == [("INBOX", "LANDING", "RAW")]
        with account.cursor() as cur:
            assert cur.execute(
                "select privatelink from _fs_global._fs_information_schema._fs_stages"
            ).fetchall() == [("N",)]
    assert "rebuilt fakesnow's global catalog" in caplog.text
    assert not (tmp_path / "databases" / f"{GLOBAL_DATABASE_FILE}.old").exists()


def test_the_same_layout_is_not_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with LocalAccount(tmp_path) as account:
        _stages(account)
    with LocalAccount(tmp_path) as account:
        _stages(account)
    assert "rebuilt" not in caplog.text


def test_a_rebuild_stopped_half_way_is_undone_on_the_next_open(tmp_path: Path) -> None:
    with LocalAccount(tmp_path) as account, account.cursor() as cur:
        account.ensure_fakesnow(cur)
        cur.execute(STAGE_ROW)
    folder = tmp_path / "databases"
    # what a rebuild leaves when the process stops after moving the old file aside: the old file and a partial new one
    (folder / GLOBAL_DATABASE_FILE).rename(folder / f"{GLOBAL_DATABASE_FILE}.old")
    duckdb.connect(
        str(folder / GLOBAL_DATABASE_FILE)
    ).close()  # an empty database standing for the partial one
    with LocalAccount(tmp_path) as account:
        assert _stages(account) == [("INBOX", "LANDING", "RAW")]
    assert not (folder / f"{GLOBAL_DATABASE_FILE}.old").exists()
