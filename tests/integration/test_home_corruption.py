"""A damaged home is found, named and never run over: a block of ``account.duckdb`` or of ``databases/DB.db``
whose checksum fails, a write-ahead log DuckDB would drop, a log that fails to replay.

Each test damages a copy of one home that was set up and ran once. A table's blocks are located with DuckDB's own
``pragma_storage_info`` (block ids) and ``pragma_database_size`` (block size); a block's bytes start after the
file's three 4 KiB headers (duckdb storage/single_file_block_manager.cpp ``BLOCK_START``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from adapters.simulator.account.errors import damaged
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.wal import replayed_bytes
from app.cli import EXIT_BACKEND, EXIT_OK, main

_BLOCK_START = 3 * 4096
_ACCOUNT = "account.duckdb"
_SOURCE = "databases/SNOWBANK.db"


def cli(home: Path, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--home", str(home), *argv], out=out, err=err)
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def set_up_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home set up with few rows: its first run reads the source table."""
    home = tmp_path_factory.mktemp("set_up") / "home"
    code, out = cli(home, "setup", "--rows", "1000", "--seed", "7")
    assert code == EXIT_OK, out
    return home


@pytest.fixture(scope="module")
def ran_home(set_up_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """That home after its graph ran once: every table the engine writes has rows on disk."""
    home = tmp_path_factory.mktemp("ran") / "home"
    shutil.copytree(set_up_home, home)
    code, out = cli(home, "deploy", "--run", "--timeout", "300")
    assert code == EXIT_OK, out
    return home


@pytest.fixture
def home(ran_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(ran_home, copy)
    return copy


@pytest.fixture
def new_home(set_up_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "new"
    shutil.copytree(set_up_home, copy)
    return copy


def damage_table(home: Path, file: str, table: str) -> None:
    """Overwrite the middle of the first block holding ``table``'s rows (the file is closed and checkpointed)."""
    path = home / file
    with duckdb.connect(str(path), read_only=True) as con:
        (block_size,) = con.execute("select block_size from pragma_database_size()").fetchone()
        blocks = con.execute(
            "select distinct block_id from pragma_storage_info(?) where block_id >= 0 order by block_id",
            [table],
        ).fetchall()
    assert blocks, f"{table} has no block in {file}"
    with path.open("r+b") as f:
        f.seek(_BLOCK_START + blocks[0][0] * block_size + 100)
        f.write(os.urandom(1000))


def runs(home: Path) -> list[dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    assert main(["--home", str(home), "runs", "--format", "json"], out=out, err=err) == EXIT_OK, (
        err.getvalue()
    )
    return json.loads(out.getvalue())


def test_a_damaged_account_block_fails_the_run_and_names_account_duckdb(home: Path) -> None:
    # the finalizer's notice reads the integration: before, only that notice failed, as a warning, and the
    # run SUCCEEDED
    damage_table(home, _ACCOUNT, "NOTIFICATION_INTEGRATIONS")

    code, out = cli(home, "deploy", "--run", "--timeout", "300")

    assert code != EXIT_OK
    assert f"{home / _ACCOUNT} is damaged" in out and "restore" in out
    assert runs(home)[0]["state"] == "FAILED"


def test_a_damaged_block_of_a_snowflake_database_names_that_file_not_the_account(new_home: Path) -> None:
    home = new_home  # its first run reads the source table (a later one reuses the dataset made from it)
    damage_table(home, _SOURCE, "DATA.MORTGAGE_LENDING_DEMO_DATA")

    code, out = cli(home, "deploy", "--run", "--timeout", "300")

    assert code != EXIT_OK
    assert f"{home / _SOURCE} of Snowflake database SNOWBANK is damaged" in out and "setup -f" in out
    assert f"{home / _ACCOUNT} is damaged" not in out
    assert runs(home)[0]["state"] == "FAILED"


def test_history_that_cannot_be_written_stops_the_command_with_the_file_named_and_no_traceback(
    home: Path,
) -> None:
    damage_table(home, _ACCOUNT, "TG_TASK_HISTORY")

    code, out = cli(home, "deploy", "--run", "--timeout", "300")

    assert code == EXIT_BACKEND
    assert f"{home / _ACCOUNT} is damaged" in out and "Traceback" not in out


def test_doctor_reads_every_table_and_names_the_damaged_one_and_its_file(home: Path) -> None:
    damage_table(home, _ACCOUNT, "REGISTRY_VERSIONS")

    code, out = cli(home, "doctor")

    assert code == EXIT_BACKEND
    assert "FAIL  database integrity: 1 of" in out and "REGISTRY_VERSIONS" in out
    assert f"fix: the simulator's account file {home / _ACCOUNT} is damaged" in out


def test_doctor_on_an_undamaged_home_reads_every_table_whole(home: Path) -> None:
    code, out = cli(home, "doctor")

    files = 1 + len(list((home / "databases").glob("*.db")))
    assert code == EXIT_OK, out
    assert "ok    database integrity: " in out and f"tables of {files} database file(s) read whole" in out


def _write_wal(database: Path) -> Path:
    """A real WAL of ``database``: one committed insert that no checkpoint moved into the file."""
    with duckdb.connect(str(database)) as con:
        con.execute("pragma disable_checkpoint_on_shutdown")
        con.execute("set wal_autocheckpoint = '1TB'")
        con.execute("create table WAL_MARKER as select range as I from range(100)")
    wal = database.with_name(database.name + ".wal")
    assert wal.stat().st_size > 0
    return wal


@pytest.mark.parametrize("file", [_ACCOUNT, _SOURCE])
def test_a_wal_duckdb_would_drop_is_kept_aside_with_a_warning_naming_both(home: Path, file: str) -> None:
    wal = (home / file).with_name((home / file).name + ".wal")
    garbage = os.urandom(
        64 * 1024
    )  # DuckDB ignores a log it cannot deserialize and deletes it at the next write
    wal.write_bytes(garbage)

    result = subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), "runs"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == EXIT_OK, result.stderr
    (copy,) = wal.parent.glob(wal.name + ".damaged-*")
    assert copy.read_bytes() == garbage
    assert str(wal) in result.stderr and str(copy) in result.stderr


def test_a_wal_that_fails_to_replay_is_refused_naming_it_and_what_to_do(home: Path) -> None:
    wal = _write_wal(home / _ACCOUNT)
    data = bytearray(wal.read_bytes())
    for at in range(200, len(data) - 100, 50):  # the framing stays whole, the entries' checksums fail
        data[at] ^= 0xFF
    wal.write_bytes(bytes(data))

    code, out = cli(home, "runs")

    assert code == EXIT_BACKEND
    assert f"the write-ahead log {wal} cannot be replayed: move it aside" in out and "Traceback" not in out


def test_a_whole_wal_is_replayed_and_not_flagged(home: Path) -> None:
    wal = _write_wal(home / _ACCOUNT)

    assert replayed_bytes(wal) == wal.stat().st_size
    assert cli(home, "runs")[0] == EXIT_OK
    assert not list(wal.parent.glob(wal.name + ".damaged-*"))
    with duckdb.connect(str(home / _ACCOUNT), read_only=True) as con:
        assert con.execute("select count(*) from WAL_MARKER").fetchone() == (100,)


def test_a_wal_cut_short_drops_only_its_torn_tail(home: Path) -> None:
    wal = _write_wal(home / _ACCOUNT)
    whole = wal.stat().st_size
    with wal.open("r+b") as f:
        f.truncate(whole - 10)

    replayed = replayed_bytes(wal)
    assert replayed is not None and 0 < replayed < whole - 10


def test_naming_a_damaged_block_keeps_the_homes_lock(home: Path) -> None:
    # reading the block through a descriptor of our own and closing it would drop DuckDB's POSIX lock on the file
    damage = duckdb.Error(
        "Corrupt database file: computed checksum 1 does not match stored checksum 2 in block at location 12288"
    )
    with LocalAccount(home) as account:
        assert damaged(damage, account.database_files()) is not None

        other = subprocess.run(
            [sys.executable, "-m", "app", "--home", str(home), "runs"],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )

    assert "in use by another process" in other.stderr
