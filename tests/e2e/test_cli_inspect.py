"""Seeing why, from the CLI on a temporary simulator home: runs show, logs, the gate's reasons, JSON values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.e2e.commands import cli, inject, runs


def test_deploy_run_prints_the_branch_with_the_gates_reasons_and_the_version_as_json_names(
    home: Path,
) -> None:
    code, out, err = cli(home, "deploy", "--run")

    assert code == 0, out + err
    branch_line = next(line for line in out.splitlines() if line.startswith("Branch chosen:"))
    assert "promote_model; PROMOTE: test_accuracy = " in branch_line and "floor >= 0.7" in branch_line
    assert "why: " in out and "no champion" in out.lower()
    version_line = next(line for line in out.splitlines() if line.startswith("Model version:"))
    assert "('" not in version_line and version_line.split()[2] == "MORTGAGE_MODEL"
    assert (
        version_line.split()[3].startswith("V") and f"(graph run {runs(home)[0]['run_id']})" in version_line
    )


def test_runs_json_carries_return_values_as_json_not_json_in_strings(promoted_home: Path) -> None:
    (run,) = runs(promoted_home)

    tasks = {t["name"]: t for t in run["tasks"]}
    assert tasks["promote_model"]["return_value"]["model_name"] == "MORTGAGE_MODEL"
    assert isinstance(tasks["prepare_data"]["return_value"], dict)
    assert run["gate"]["outcome"] == "promote" and run["duration_seconds"] > 0


def test_runs_show_prints_each_task_and_the_failed_tasks_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, "feature_store", "source_version")
    assert cli(home, "deploy", "--run")[0] == 1
    monkeypatch.undo()
    run_id = runs(home)[0]["run_id"]

    code, out, err = cli(home, "runs", "show", run_id)

    assert code == 0, err
    assert f"graph run {run_id} of MORTGAGE_PIPELINE: FAILED" in out
    assert "prepare_data: FAILED, attempt 1" in out and "cleanup: SUCCEEDED" in out
    assert "BackendUnavailable: injected failure in source_version" in out
    assert "Traceback (most recent call last)" in out and "in prepare_data" in out


def test_runs_show_json_has_the_traceback_and_log_of_each_task(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, "feature_store", "source_version")
    assert cli(home, "deploy", "--run")[0] == 1
    monkeypatch.undo()

    code, out, _ = cli(home, "runs", "show", runs(home)[0]["run_id"], "--format", "json")

    tasks = {t["name"]: t for t in json.loads(out)["tasks"]}
    assert code == 0 and "Traceback" in tasks["prepare_data"]["error_traceback"]
    assert tasks["cleanup"]["error_traceback"] is None


def test_runs_show_of_an_unknown_run_exits_3_naming_it(promoted_home: Path) -> None:
    code, _, err = cli(promoted_home, "runs", "show", "123")

    assert code == 3 and "no graph run 123" in err


def test_logs_prints_a_tasks_error_and_traceback_and_its_ml_jobs_instance_logs(promoted_home: Path) -> None:
    run_id = runs(promoted_home)[0]["run_id"]

    code, out, err = cli(promoted_home, "logs", "train_model", "--run", run_id)
    assert code == 0, err
    assert "task MORTGAGE_PIPELINE$TRAIN_MODEL: SUCCEEDED" in out and "--instance N" in out

    for instance in ("0", "1"):
        code, job_log, err = cli(promoted_home, "logs", "train_model", "--instance", instance)
        assert code == 0, err
        assert job_log.strip(), f"instance {instance} logged nothing"


def test_logs_of_a_job_instance_for_a_task_without_a_job_exits_3(promoted_home: Path) -> None:
    code, _, err = cli(promoted_home, "logs", "cleanup", "--instance", "0")

    assert code == 3 and "recorded no ML Job" in err


def test_runs_has_a_header_each_runs_duration_and_filters_by_state(
    promoted_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, "feature_store", "source_version")
    assert cli(promoted_home, "deploy", "--run")[0] == 1
    monkeypatch.undo()

    _, table, _ = cli(promoted_home, "runs")
    _, failed, _ = cli(promoted_home, "runs", "--state", "FAILED", "--format", "json")
    _, none_since, _ = cli(promoted_home, "runs", "--since", "2999-01-01", "--format", "json")

    assert table.splitlines()[0].split()[:4] == ["graph", "run", "id", "state"]
    assert "error in MORTGAGE_PIPELINE$PREPARE_DATA: BackendUnavailable" in table
    assert [r["state"] for r in json.loads(failed)] == ["FAILED"]
    assert json.loads(none_since) == []


def test_runs_since_that_is_not_a_time_exits_2_naming_the_value(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--home", str(home), "runs", "--since", "yesterday"])

    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "'yesterday'" in err and "7d" in err


def test_models_json_carries_each_versions_gate_evidence_as_json(promoted_home: Path) -> None:
    code, out, _ = cli(promoted_home, "models", "--format", "json")

    (version,) = json.loads(out)["versions"]
    assert code == 0 and version["evidence"]["gate"]["outcome"] == "promote"
    assert version["evidence"]["gate"]["candidate"]["test_accuracy"] == version["metrics"]["test_accuracy"]


def test_models_follows_the_deployed_model_name_and_shows_every_metric(home: Path) -> None:
    assert cli(home, "deploy", "--run", "--config", "model_name=OTHER_MODEL")[0] == 0

    code, out, err = cli(home, "models")

    assert code == 0, err
    assert out.startswith("model OTHER_MODEL") and "test_log_loss=" in out and "train_f1=" in out


def test_models_shows_the_graph_run_that_made_each_version_as_its_source_run(promoted_home: Path) -> None:
    run_id = runs(promoted_home)[0]["run_id"]

    (version,) = json.loads(cli(promoted_home, "models", "--format", "json")[1])["versions"]
    text = cli(promoted_home, "models")[1]

    assert version["source_run"] == run_id == version["evidence"]["graph_run_id"]
    assert f"source run: {run_id}" in text
