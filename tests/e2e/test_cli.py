"""The CLI end to end on a temporary simulator home: both branches, a failure in every task, inspection."""

from __future__ import annotations

import argparse
import errno
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.simulator.account.errors import translated
from app.cli import cmd_scheduler, main
from app.settings import load_settings
from tests.e2e.commands import cli, inject, models, runs, states
from tests.e2e.homes import ROWS


def test_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--help"], capture_output=True, text=True, check=True
    )

    for command in ("setup", "run", "deploy", "runs", "models", "graph", "scheduler", "suspend", "drop"):
        assert command in result.stdout


def test_setup_twice_changes_nothing_and_says_so(home: Path) -> None:
    code, out, _ = cli(home, "setup", "--rows", ROWS, "--seed", "7")

    assert code == 0 and "already" in out.lower()


def test_deploy_run_promotes_a_good_model(home: Path) -> None:
    code, out, err = cli(home, "deploy", "--run", "--timeout", "300")

    assert code == 0, out + err
    assert "Branch chosen: promote_model" in out
    (run,) = runs(home)
    assert run["state"] == "SUCCEEDED"
    assert states(run) | {"send_alert": "SKIPPED"} == states(run)
    assert states(run)["promote_model"] == "SUCCEEDED" and states(run)["cleanup"] == "SUCCEEDED"
    m = models(home)
    assert m["default_version"] is not None
    (version,) = m["versions"]
    assert version["name"] == m["default_version"] and "CHAMPION" in version["aliases"]
    assert version["metrics"]["test_accuracy"] >= 0.7


def test_a_threshold_override_takes_the_alert_branch_and_notifies(home: Path) -> None:
    code, out, err = cli(home, "deploy", "--run", "--config", "metric_threshold=0.999")

    assert code == 0, out + err
    assert "Branch chosen: send_alert" in out
    (run,) = runs(home)
    assert states(run)["promote_model"] == "SKIPPED" and states(run)["send_alert"] == "SUCCEEDED"
    assert models(home)["versions"] == []
    mail = "".join(p.read_text() for p in home.rglob("*.mbox"))
    assert "not promoted" in mail and "0.999" in mail


def test_weak_data_takes_the_alert_branch_honestly(home: Path) -> None:
    assert cli(home, "setup", "--rows", ROWS, "--signal", "0", "--force")[0] == 0

    code, out, err = cli(home, "deploy", "--run")

    assert code == 0, out + err
    assert "Branch chosen: send_alert" in out


@pytest.mark.parametrize(
    ("port", "method", "task"),
    [
        ("feature_store", "source_version", "prepare_data"),
        ("jobs", "submit_training", "train_model"),
        ("registry", "default_version", "check_model_quality"),
        ("registry", "promote", "promote_model"),
        ("registry", "list_versions", "cleanup"),
    ],
)
def test_a_failing_task_fails_the_run_but_the_finalizer_runs_and_the_default_is_unchanged(
    promoted_home: Path, monkeypatch: pytest.MonkeyPatch, port: str, method: str, task: str
) -> None:
    before = models(promoted_home)["default_version"]
    # New data, so a new candidate.
    assert cli(promoted_home, "setup", "--rows", ROWS, "--seed", "8", "--force")[0] == 0
    inject(monkeypatch, port, method)

    code, _, _ = cli(promoted_home, "deploy", "--run")

    assert code == 1
    monkeypatch.undo()
    run = runs(promoted_home)[0]
    assert run["state"] == "FAILED" and states(run)[task] == "FAILED"
    if task == "cleanup":  # the finalizer failed after a successful promotion
        assert states(run)["promote_model"] == "SUCCEEDED"
        return
    assert states(run)["cleanup"] == "SUCCEEDED"
    mail = "".join(p.read_text() for p in promoted_home.rglob("*.mbox"))
    assert f"failed in {task}" in mail
    assert models(promoted_home)["default_version"] == before


def test_a_full_disk_when_the_run_ends_exits_at_once_naming_the_path_not_at_the_timeout(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.simulator.taskgraph.store import GraphStore

    wal = home / "account.duckdb.wal"

    def disk_full(self: GraphStore, run: Any, history: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(wal))

    monkeypatch.setattr(GraphStore, "finish_run", translated("recording the end of the run")(disk_full))
    started = time.monotonic()

    code, out, err = cli(home, "deploy", "--run", "--timeout", "120")

    assert code == 3, out + err
    assert f"no space left on {wal}" in err
    assert time.monotonic() - started < 60


def test_a_damaged_default_model_is_named_and_models_drop_force_repairs_the_home(promoted_home: Path) -> None:
    default = models(promoted_home)["default_version"]
    model_file = promoted_home / "files" / "registry" / "MORTGAGE_MODEL" / default / "model.ubj"
    model_file.write_bytes(b"\xe8" * 64 + model_file.read_bytes()[64:])

    assert cli(promoted_home, "deploy", "--run")[0] == 1
    error = states_errors(runs(promoted_home)[0])["check_model_quality"]
    assert f"the model file {model_file} of MORTGAGE_MODEL version {default} is damaged" in error

    code, _, err = cli(promoted_home, "models", "--drop", default)
    assert code == 2 and "is the default version" in err
    code, out, _ = cli(promoted_home, "models", "--drop", default, "--force")
    assert code == 0 and f"Dropped MORTGAGE_MODEL version {default}" in out

    assert cli(promoted_home, "deploy", "--run")[0] == 0


def states_errors(run: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["error_message"] for t in run["tasks"] if t["error_message"]}


def test_a_failing_alert_fails_the_run_and_cleanup_still_runs(home: Path) -> None:
    code, _, _ = cli(
        home,
        "deploy",
        "--run",
        "--config",
        "metric_threshold=0.999",
        "--config",
        "notification_integration=NOWHERE",
    )

    assert code == 1
    run = runs(home)[0]
    assert states(run)["send_alert"] == "FAILED" and states(run)["cleanup"] == "SUCCEEDED"
    assert "NOWHERE" in (run["first_error_message"] or "")


def test_run_executes_the_pipeline_in_process_without_registering(home: Path) -> None:
    code, out, err = cli(home, "run", "--no-register")

    assert code == 0, out + err
    assert "--no-register" in out
    assert models(home)["versions"] == []


def test_graph_renders_the_last_runs_states_as_mermaid(promoted_home: Path) -> None:
    code, out, _ = cli(promoted_home, "graph", "--format", "mermaid")

    assert code == 0
    assert "check_model_quality -->|promote_model| promote_model" in out
    assert "class promote_model ok;" in out


def test_invalid_input_is_explained_with_exit_code_2(home: Path) -> None:
    code, _, err = cli(home, "deploy", "--config", "metric_threshold=1.7")
    assert code == 2 and "metric_threshold" in err and "1.7" in err

    with pytest.raises(SystemExit) as exit_info:
        main(["--home", str(home), "deploy", "--schedule", "0m"])
    assert exit_info.value.code == 2


def test_an_empty_home_or_a_home_that_is_not_a_path_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default_home = tmp_path / "xdg" / "taskgraph-ml"  # where an empty home used to lead
    monkeypatch.setenv("XDG_DATA_HOME", str(default_home.parent))
    assert main(["--home", "", "runs"], out=io.StringIO(), err=io.StringIO()) == 2
    monkeypatch.setenv("APP_HOME", "")
    err = io.StringIO()
    assert main(["runs"], out=io.StringIO(), err=err) == 2 and "APP_HOME" in err.getvalue()
    monkeypatch.delenv("APP_HOME")
    config = tmp_path / "settings.toml"
    config.write_text("home = 5\n")
    err = io.StringIO()
    assert main(["--config-file", str(config), "runs"], out=io.StringIO(), err=err) == 2
    assert "home=5" in err.getvalue()
    assert not default_home.exists()


def test_a_failed_setup_on_a_new_path_leaves_no_stub_home(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = cli(tmp_path / "new" / "home", "setup", "--data", str(bad))
    assert code == 2 and "missing column" in err
    assert not (tmp_path / "new").exists()


def test_setup_data_on_a_set_up_home_without_force_exits_2_and_says_add_f(home: Path, tmp_path: Path) -> None:
    code, out, err = cli(home, "setup", "--data", str(tmp_path / "mine.csv"))
    assert code == 2 and "was not loaded" in err and "-f" in err
    assert "Nothing to do" not in out


@pytest.mark.parametrize(("rows", "named"), [("1", "got 1"), ("10000000000000", "GiB of memory")])
def test_setup_rows_a_run_cannot_use_or_memory_cannot_hold_exit_2(
    tmp_path: Path, rows: str, named: str
) -> None:
    code, _, err = cli(tmp_path / "home", "setup", "--rows", rows)
    assert code == 2 and named in err and "Traceback" not in err


def test_suspend_resume_and_drop_operate_the_deployed_graph(home: Path) -> None:
    assert cli(home, "deploy", "--schedule", "12h")[0] == 0

    assert cli(home, "suspend")[1].startswith("Suspended")
    assert cli(home, "resume")[1].startswith("Resumed")
    assert cli(home, "drop")[1].startswith("Dropped")
    assert cli(home, "drop")[0] == 3


def test_the_scheduler_attaches_the_deployed_graph_and_stops_cleanly_on_sigterm(home: Path) -> None:
    assert cli(home, "deploy", "--schedule", "12h")[0] == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "--home", str(home), "scheduler", "--poll", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "Scheduler running" in proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Received SIGTERM" in out and "Scheduler stopped." in out


class _LockedOutput(io.StringIO):
    """Output whose writes take a lock, as a buffered stdout does, that another thread can hold."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = threading.Lock()

    def write(self, text: str) -> int:
        with self.busy:
            return super().write(text)


def test_sigterm_to_the_scheduler_returns_from_its_handler_at_once_while_another_thread_holds_the_output() -> (
    None
):
    out = _LockedOutput()
    handler_seconds: list[float] = []

    def run(stop: Any, _poll: float, **_reporters: Any) -> None:  # the loop, as the scheduler runs it
        held, done = threading.Event(), threading.Event()

        def hold_output() -> None:  # e.g. a job worker's thread writing while the signal comes
            with out.busy:
                held.set()
                done.wait(1.0)

        holder = threading.Thread(target=hold_output)
        holder.start()
        held.wait(1.0)
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, in this thread
        handler_seconds.append(time.monotonic() - started)
        done.set()
        holder.join(1.0)
        assert stop.wait(1.0)

    loop = SimpleNamespace(home="HOME", attach=lambda _graph: None, run=run)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = cmd_scheduler(
            argparse.Namespace(poll=0.1, report=None),
            load_settings(env={}, backend="simulator"),
            SimpleNamespace(local_scheduler=lambda: loop),  # type: ignore[arg-type]
            out,
        )
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert handler_seconds[0] < 0.5
    assert code == 0 and "Received SIGTERM; stopping" in out.getvalue()


def test_the_scheduler_needs_a_deployed_graph(home: Path) -> None:
    code, _, err = cli(home, "scheduler")

    assert code == 3 and "deploy it first" in err


def test_a_run_killed_mid_flight_is_failed_on_restart_not_left_executing(home: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "--home",
            str(home),
            "deploy",
            "--run",
            "--config",
            "n_estimators=5000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until training is under way
            if "train_model" in line and "EXECUTING" in line:
                break
        time.sleep(0.3)  # the engine persists finished tasks within 50 ms
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()

    (run,) = runs(home)

    assert run["state"] == "FAILED"
    assert "ended unexpectedly" in (run["first_error_message"] or "")
    assert states(run)["prepare_data"] == "SUCCEEDED"


def test_automatic_retry_reruns_only_the_failed_task_and_succeeds(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("[graph]\ntask_auto_retry_attempts = 1\n")
    inject(monkeypatch, "jobs", "submit_training", times=1)

    code, out, err = cli(home, "--config-file", str(settings), "deploy", "--run")

    assert code == 0, out + err
    monkeypatch.undo()
    run = runs(home)[0]
    assert run["state"] == "SUCCEEDED" and run["attempt_number"] == 2
    attempts = {t["name"]: t["attempt_number"] for t in run["tasks"] if t["state"] == "SUCCEEDED"}
    assert attempts["train_model"] == 2
    assert attempts["prepare_data"] == 1  # kept from the first attempt, not re-run


def test_graph_shows_the_config_and_schedule_the_graph_was_deployed_with(home: Path) -> None:
    assert cli(home, "deploy", "--schedule", "12h", "--config", "metric_threshold=0.8")[0] == 0

    code, out, _ = cli(home, "graph")

    assert code == 0
    assert "deployed, started, schedule 12h" in out and '"metric_threshold": 0.8' in out


def test_a_timed_out_task_fails_the_run_and_the_finalizer_notifies(home: Path, tmp_path: Path) -> None:
    settings = tmp_path / "settings.toml"
    # Every task gets the limit; train_model (3000 trees) always passes it, and on a loaded machine an earlier task
    # may too: whichever times out first is the one that fails and is named.
    settings.write_text("[graph]\ntask_timeout_seconds = 2\n")

    result = subprocess.run(
        [sys.executable, "-m", "app", "--home", str(home), "--config-file", str(settings), "deploy", "--run",
         "--config", "n_estimators=3000"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert result.returncode == 1, result.stderr
    run = runs(home)[0]
    failed = [task for task, state in states(run).items() if state == "FAILED"]
    assert len(failed) == 1 and states(run)["cleanup"] == "SUCCEEDED"
    assert "timed out" in (run["first_error_message"] or "")
    mail = "".join(p.read_text() for p in home.rglob("*.mbox"))
    assert f"failed in {failed[0]}" in mail


def test_cancel_with_nothing_running_succeeds_and_says_nothing_was_running(home: Path) -> None:
    assert cli(home, "deploy")[0] == 0

    code, out, _ = cli(home, "cancel")

    assert code == 0 and "Nothing was running" in out


def test_a_deploy_on_a_compute_pool_that_does_not_exist_is_refused_with_the_create_to_fix_it(
    home: Path,
) -> None:
    code, out, err = cli(home, "deploy", "--run", "--config", "compute_pool=NOPE", "--timeout", "300")

    assert code == 3, out + err
    assert "CREATE COMPUTE POOL IF NOT EXISTS NOPE MIN_NODES = 1" in err
    assert "Deployed" not in out
    code, _, err = cli(home, "suspend")  # nothing was deployed to suspend
    assert code == 3, err


def test_a_deploy_asking_more_instances_than_the_pool_has_is_refused_with_the_alter_to_fix_it(
    home: Path,
) -> None:
    code, out, err = cli(home, "deploy", "--config", "target_instances=64")

    assert code == 2, out + err
    assert "ALTER COMPUTE POOL DEMO_POOL SET MAX_NODES = 64" in err
    assert "Deployed" not in out


def test_a_run_on_a_compute_pool_that_does_not_exist_fails_in_train_model_with_the_create_to_fix_it(
    home: Path,
) -> None:
    code, out, err = cli(home, "run", "--config", "compute_pool=NOPE")

    assert code == 1, out + err
    assert "train_model" in out + err and "CREATE COMPUTE POOL IF NOT EXISTS NOPE MIN_NODES = 1" in out + err
