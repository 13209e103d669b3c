"""Operating a deployed graph from the CLI on a temporary simulator home: retry (EXECUTE TASK … RETRY LAST) and
execute --config (EXECUTE TASK … USING CONFIG, one run, no redeploy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.commands import cli, inject, runs, states


def test_retry_reruns_the_failed_run_as_its_next_attempt_and_it_succeeds(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inject(monkeypatch, "jobs", "submit_training")
    assert cli(home, "deploy", "--run")[0] == 1
    monkeypatch.undo()
    (failed,) = runs(home)

    code, out, err = cli(home, "retry")

    retried = runs(home)[0]
    assert code == 0, out + err
    assert f"Graph run {failed['run_id']} retried" in out and f"Graph run {failed['run_id']} SUCCEEDED" in out
    assert (retried["run_id"], retried["attempt_number"]) == (failed["run_id"], 2)
    assert retried["scheduled_from"] == "MANUAL RETRY" and states(retried)["promote_model"] == "SUCCEEDED"


def test_retry_after_a_successful_run_is_refused_saying_why(promoted_home: Path) -> None:
    code, _, err = cli(promoted_home, "retry")

    assert code == 2 and "FAILED or CANCELLED" in err and "SUCCEEDED" in err
    assert len(runs(promoted_home)) == 1


def test_execute_with_config_uses_it_for_that_run_only_without_redeploying(home: Path) -> None:
    assert cli(home, "deploy")[0] == 0

    code, out, err = cli(home, "execute", "--config", "model_name=OTHER_MODEL")

    assert code == 0, out + err
    assert 'using config {"model_name": "OTHER_MODEL"}' in out
    assert [v["name"] for v in models_of(home, "OTHER_MODEL")] and not models_of(home, "MORTGAGE_MODEL")
    assert cli(home, "graph")[1].count("OTHER_MODEL") == 0  # the deployed config is unchanged


def test_execute_with_an_unknown_config_key_is_refused_before_any_run(home: Path) -> None:
    assert cli(home, "deploy")[0] == 0

    code, _, err = cli(home, "execute", "--config", "no_such_key=1")

    assert code == 2 and "no_such_key" in err
    assert runs(home) == []


def models_of(home: Path, model: str) -> list[dict[str, object]]:
    code, out, err = cli(home, "models", "--model-name", model, "--format", "json")
    assert code == 0, err
    return list(json.loads(out)["versions"])
