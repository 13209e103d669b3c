"""Ctrl-C and --timeout in ``deploy --run`` end the run cleanly: cancelled, the finalizer runs, the notice is sent,
a clear last line and no traceback (issue 13 item 4). Real processes and real signals, each bounded in time."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.cli import main

# Training this long outlasts the moment the signal arrives, so the run is cancelled mid-task.
_SLOW = ["--config", "n_estimators=5000"]


def _last_run(home: Path) -> dict[str, Any]:
    out = io.StringIO()
    assert main(["--home", str(home), "runs", "--format", "json", "--limit", "1"], out=out) == 0
    (run,) = json.loads(out.getvalue())
    return run


def _deploy_run(home: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "--home", str(home), "deploy", "--run", *_SLOW, *extra],
        stdin=subprocess.DEVNULL,  # no terminal: Ctrl-C cancels without asking
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_without_a_terminal_cancels_the_run_runs_the_finalizer_and_sends_the_notice(
    home: Path,
) -> None:
    proc = _deploy_run(home)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # wait until training is under way
            seen.append(line)
            if "train_model" in line and "EXECUTING" in line:
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    out = "".join(seen) + rest

    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert out.rstrip().splitlines()[-1].startswith("Interrupted: graph run ")
    assert out.rstrip().endswith("ended CANCELLED.")
    run = _last_run(home)
    tasks = {t["name"]: t["state"] for t in run["tasks"]}
    assert (run["state"], tasks["train_model"], tasks["cleanup"]) == ("CANCELLED", "CANCELLED", "SUCCEEDED")
    mail = "".join(p.read_text() for p in home.rglob("*.mbox"))
    assert "failed in train_model" in mail and "train_model: cancelled" in mail


def test_a_timeout_cancels_the_run_runs_the_finalizer_and_exits_124(home: Path) -> None:
    proc = _deploy_run(home, "--timeout", "3")
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()

    assert proc.returncode == 124, out + err
    assert "Traceback" not in out + err
    assert "Timed out after 3 s: graph run " in out and out.rstrip().endswith("ended CANCELLED.")
    run = _last_run(home)
    assert {t["name"]: t["state"] for t in run["tasks"]}["cleanup"] == "SUCCEEDED"
    assert "failed in" in "".join(p.read_text() for p in home.rglob("*.mbox"))
