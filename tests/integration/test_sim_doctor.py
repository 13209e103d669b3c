"""``doctor`` on the simulator: what setup creates, checked without creating anything; exit 0 only when ready."""

from __future__ import annotations

import io
from pathlib import Path

from adapters.simulator.account.home import LocalAccount
from app.cli import EXIT_BACKEND, EXIT_OK, main


def cli(home: Path, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--home", str(home), *argv], out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def doctor(home: Path, *argv: str) -> tuple[int, str]:
    return cli(home, "doctor", *argv)


def set_up(home: Path) -> None:
    code, out = cli(home, "setup", "--rows", "500")
    assert code == EXIT_OK, out


def test_a_fresh_home_is_not_ready_names_setup_and_is_not_created(tmp_path: Path) -> None:
    home = tmp_path / "fresh"

    code, out = doctor(home)

    assert code == EXIT_BACKEND
    assert "FAIL  simulator home" in out and "fix: python -m app setup" in out
    assert not home.exists()


def test_a_set_up_home_is_ready(tmp_path: Path) -> None:
    set_up(tmp_path / "home")

    code, out = doctor(tmp_path / "home")

    assert code == EXIT_OK, out
    assert "FAIL" not in out and "ok    compute pool DEMO_POOL: exists, MAX_NODES 2" in out


def test_a_pool_the_home_does_not_hold_is_reported_with_setup_as_the_fix(tmp_path: Path) -> None:
    set_up(tmp_path / "home")

    code, out = doctor(tmp_path / "home", "--config", "compute_pool=NOPE")

    assert code == EXIT_BACKEND
    assert "FAIL  compute pool NOPE: does not exist" in out and "1 of 12 check(s) failed" in out


def test_a_home_from_before_pools_lacks_only_the_pool(tmp_path: Path) -> None:
    set_up(tmp_path / "home")
    with LocalAccount(tmp_path / "home") as account, account.cursor() as cur:
        cur.execute("drop table SIM_COMPUTE_POOLS")

    code, out = doctor(tmp_path / "home")

    assert code == EXIT_BACKEND
    assert [line for line in out.splitlines() if "FAIL" in line] == [
        "  FAIL  compute pool DEMO_POOL: does not exist: the training job would fail"
    ]
