"""A second process on a home that ``deploy --run`` holds: its read and control commands are answered by the
holder (``app.control``), the others are refused naming it. Real processes, each bounded in time."""

from __future__ import annotations

import io
import json
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.control import CONTROL_FILE

# Training this long outlasts every command the tests send while the run holds the home.
_SLOW = ["--config", "n_estimators=5000"]
_TIMEOUT = 120


@pytest.fixture
def holder(home: Path) -> Iterator[subprocess.Popen[str]]:
    """``deploy --run`` of a slow run, returned once training is under way (the home is held)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "--home", str(home), "deploy", "--run", *_SLOW],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "train_model" in line and "EXECUTING" in line:
                break
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # no terminal: cancels the run, the finalizer runs
            try:
                proc.communicate(timeout=_TIMEOUT)
            finally:
                proc.kill()


def _app(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), *argv],
        check=False,  # the exit code is what the tests check
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def test_runs_from_a_second_process_lists_the_run_the_holder_is_executing(
    home: Path, holder: subprocess.Popen[str]
) -> None:
    done = _app(home, "runs", "--format", "json", "--limit", "1")

    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)
    assert run["state"] == "EXECUTING"
    assert {t["name"]: t["state"] for t in run["tasks"]}["prepare_data"] == "SUCCEEDED"
    assert f"answered by pid {holder.pid}" in done.stderr


def test_the_control_file_names_the_holder_and_only_its_owner_can_read_it(
    home: Path, holder: subprocess.Popen[str]
) -> None:
    file = home / CONTROL_FILE
    data = json.loads(file.read_text())

    assert data["pid"] == holder.pid and "deploy --run" in data["command"]
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_cancel_from_a_second_process_cancels_the_run_and_the_holder_ends_after_its_finalizer(
    home: Path, holder: subprocess.Popen[str]
) -> None:
    done = _app(home, "cancel")
    out, err = holder.communicate(timeout=_TIMEOUT)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Cancelled run(s) ")
    assert holder.returncode == 1, out + err
    assert out.rstrip().endswith("CANCELLED.") and "Traceback" not in out + err
    assert "cleanup                SUCCEEDED" in out
    assert not (home / CONTROL_FILE).exists()  # removed when the holder closed the home


def test_setup_from_a_second_process_is_refused_naming_the_holder(
    home: Path, holder: subprocess.Popen[str]
) -> None:
    done = _app(home, "setup", "-f")

    assert done.returncode == 3
    assert f"is held by pid {holder.pid} (command python -m app --home {home} deploy --run" in done.stderr
    assert "wait or use another --home" in done.stderr


def test_a_request_with_a_wrong_token_is_refused(home: Path, holder: subprocess.Popen[str]) -> None:
    port = json.loads((home / CONTROL_FILE).read_text())["port"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/command",
        data=json.dumps({"argv": ["cancel"], "settings": {}, "cwd": "/"}).encode(),
        headers={"Authorization": "Bearer not-the-token"},
        method="POST",
    )

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=_TIMEOUT)

    assert refused.value.code == 403
    assert "wrong or missing token" in json.loads(refused.value.read())["error"]
    assert holder.poll() is None  # and nothing was cancelled: the run goes on


def test_a_control_file_left_by_a_dead_process_is_ignored_and_replaced(home: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True, text=True
    )
    stale = {"pid": int(dead.stdout), "port": 1, "token": "stale", "command": "python -m app scheduler"}
    (home / CONTROL_FILE).write_text(json.dumps(stale))
    err = io.StringIO()

    code = main(["--home", str(home), "runs"], out=io.StringIO(), err=err)

    assert code == 0, err.getvalue()
    assert "answered by" not in err.getvalue()
    assert not (home / CONTROL_FILE).exists()  # replaced by this process's own, removed when it closed


def test_a_home_held_by_a_process_without_a_control_file_is_reported_in_use(home: Path) -> None:
    script = (  # a script of its own holding the home, which serves no endpoint
        "import sys; from adapters.simulator.account.home import LocalAccount; "
        "a = LocalAccount(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        done = _app(home, "runs")
    finally:
        proc.communicate("", timeout=_TIMEOUT)

    assert done.returncode == 3
    assert f"the simulator home {home} is in use by another process" in done.stderr
