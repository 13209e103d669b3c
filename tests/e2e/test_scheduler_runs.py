"""``scheduler`` in a real process on a temporary home: a line per run it starts and ends, and SIGTERM while a
run's job workers are starting ends it within a bounded time (issue 13 item 1), the run ended, no worker left."""

from __future__ import annotations

import io
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from adapters.simulator.account.home import DB_FILE
from app.cli import main

# The run trains the default model on 4000 rows: well under this on a loaded 2-core machine.
_BOUND_SECONDS = 240.0
_WORKER = "adapters.simulator.jobs.worker"  # the module jobs/runner.py's _spawn starts each instance as


@pytest.fixture
def due_home(prepared_home: Path, tmp_path: Path) -> Path:
    """A home whose graph is deployed on a 12 h schedule and due now: the scheduler's first check starts it."""
    home = tmp_path / "home"
    shutil.copytree(prepared_home, home)
    assert main(["--home", str(home), "deploy", "--schedule", "12h"], out=io.StringIO()) == 0
    # The due time is TG_GRAPHS.NEXT_DUE (adapters/simulator/taskgraph/store.py); waiting 12 h is not a test.
    with duckdb.connect(str(home / DB_FILE)) as db:
        db.execute("update TG_GRAPHS set NEXT_DUE = NEXT_DUE - interval 1 day")
    return home


def _scheduler(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "--home", str(home), "scheduler", "--poll", "0.2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:  # the process ended
        return b""


def _workers(parent: int) -> list[int]:
    """The job worker processes ``parent`` started (from /proc: their parent pid and command line)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
        if ppid == parent and _WORKER.encode() in _cmdline(int(stat.parent.name)):
            found.append(int(stat.parent.name))
    return found


def test_the_scheduler_prints_a_line_when_it_starts_a_run_and_one_when_the_run_ends(due_home: Path) -> None:
    proc = _scheduler(due_home)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=_BOUND_SECONDS)
    finally:
        proc.kill()

    assert lines[0].startswith("Scheduler running"), lines
    assert re.fullmatch(r"Run (\d+) of MORTGAGE_PIPELINE started \(SCHEDULE\)\.\n", lines[1]), lines
    run_id = lines[1].split()[1]
    ended = re.fullmatch(
        rf"Run {run_id} of MORTGAGE_PIPELINE SUCCEEDED in (\d+\.\d) s; branch (\S+)\.\n", lines[2]
    )
    assert ended, lines
    assert float(ended.group(1)) > 0 and "promote_model" in ended.group(2)
    assert proc.returncode == 0, err


def test_sigterm_while_a_runs_job_workers_start_ends_the_scheduler_in_bounded_time(due_home: Path) -> None:
    proc = _scheduler(due_home)
    try:
        deadline = time.monotonic() + _BOUND_SECONDS
        while not (workers := _workers(proc.pid)):
            assert proc.poll() is None and time.monotonic() < deadline, "no job worker started"
            time.sleep(0.01)
        proc.send_signal(
            signal.SIGTERM
        )  # as the first worker appears: its siblings and its import are starting
        sent = time.monotonic()
        out, err = proc.communicate(timeout=_BOUND_SECONDS)
        took = time.monotonic() - sent
    finally:
        proc.kill()

    assert proc.returncode == 0, out + err
    assert "Traceback" not in out + err
    assert "Received SIGTERM; stopping after the current check." in out and "Scheduler stopped." in out
    assert re.search(r"Run \d+ of MORTGAGE_PIPELINE (SUCCEEDED|FAILED|CANCELLED) in ", out), out
    assert took < _BOUND_SECONDS
    assert [w for w in workers if _WORKER.encode() in _cmdline(w)] == []  # no worker outlives the scheduler
