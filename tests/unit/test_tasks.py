"""The task bodies: values flow between tasks as the guide's do, and the finalizer reports a failed run."""

from __future__ import annotations

import json

import pytest

from app.tasks import run_stage
from domain import pipeline
from domain.config import PipelineConfig
from domain.errors import BackendUnavailable
from domain.refs import DatasetSplits
from tests.fakes import (
    FakeClock,
    FakeFeatureStore,
    FakeJobRunner,
    FakeModelRegistry,
    FakeNotifier,
    FakeTaskRuntime,
)

GOOD = {"test_accuracy": 0.9, "test_roc_auc": 0.9}


@pytest.fixture
def ports() -> pipeline.Ports:
    clock = FakeClock()
    fs = FakeFeatureStore(clock)
    return pipeline.Ports(
        fs, FakeJobRunner(metrics=dict(GOOD)), FakeModelRegistry(clock, fs), FakeNotifier(), clock
    )


@pytest.fixture
def runtime() -> FakeTaskRuntime:
    return FakeTaskRuntime(config=PipelineConfig().to_mapping())


def run_through_check(ports: pipeline.Ports, runtime: FakeTaskRuntime) -> str | None:
    for stage in (pipeline.PREPARE_DATA, pipeline.TRAIN_MODEL):
        runtime.values[stage.upper()] = run_stage(stage, runtime, ports) or ""
    return run_stage(pipeline.CHECK_MODEL_QUALITY, runtime, ports)


def test_prepare_data_returns_the_dataset_references_as_json(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    value = run_stage(pipeline.PREPARE_DATA, runtime, ports)

    assert value is not None and DatasetSplits.from_json(value).test.version.endswith("_test")


def test_the_branch_returns_the_exact_name_of_the_successor_to_run(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    assert run_through_check(ports, runtime) == "promote_model"


def test_promote_model_returns_the_model_and_version_it_promoted(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    run_through_check(ports, runtime)

    value = json.loads(run_stage(pipeline.PROMOTE_MODEL, runtime, ports) or "")

    assert (value["model_name"], value["model_version"]) == ("MORTGAGE_MODEL", "V20260210_092849")
    assert value["gate"]["outcome"] == "promote" and value["gate"]["successor"] == "promote_model"


def test_the_promoted_version_keeps_the_graph_run_id_and_its_mail_says_it(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    runtime.config["notify_on_promotion"] = True
    runtime.run_id = "1770715729000"
    run_through_check(ports, runtime)

    value = json.loads(run_stage(pipeline.PROMOTE_MODEL, runtime, ports) or "")

    version = ports.registry.get_version(value["model_name"], value["model_version"])
    assert version.evidence["graph_run_id"] == "1770715729000"
    ((_, mail),) = ports.notifier.sent  # type: ignore[attr-defined]
    assert "Graph run: 1770715729000" in mail.body


def test_the_alert_says_the_graph_run_id(ports: pipeline.Ports, runtime: FakeTaskRuntime) -> None:
    runtime.config["metric_threshold"] = 0.9999
    runtime.run_id = "1770715729000"
    run_through_check(ports, runtime)

    run_stage(pipeline.SEND_ALERT, runtime, ports)

    ((_, alert),) = ports.notifier.sent  # type: ignore[attr-defined]
    assert "Graph run: 1770715729000" in alert.body


def test_send_alert_returns_the_gate_decision_as_json_not_a_sentence(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    runtime.config["metric_threshold"] = 0.9999
    run_through_check(ports, runtime)

    value = json.loads(run_stage(pipeline.SEND_ALERT, runtime, ports) or "")

    assert value["gate"]["outcome"] == "alert" and value["gate"]["threshold"] == 0.9999


def test_a_failing_stage_raises_and_leaves_the_notice_to_the_finalizer(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    ports.feature_store.fail_on.add("source_version")  # type: ignore[attr-defined]

    with pytest.raises(BackendUnavailable):
        run_stage(pipeline.PREPARE_DATA, runtime, ports)

    assert ports.notifier.sent == []  # type: ignore[attr-defined]


def test_the_finalizer_sends_one_notice_naming_every_failed_task(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    runtime.states = {"TRAIN_MODEL": "FAILED", "PREPARE_DATA": "SUCCEEDED"}

    run_stage(pipeline.CLEANUP, runtime, ports)

    ((_, notice),) = ports.notifier.sent  # type: ignore[attr-defined]
    assert "failed in train_model" in notice.subject and "task history" in notice.body
    assert f"Graph run: {runtime.run_id}" in notice.body


def test_the_finalizer_of_a_successful_run_sends_no_failure_notice(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    runtime.states = dict.fromkeys(("PREPARE_DATA", "TRAIN_MODEL", "CHECK_MODEL_QUALITY"), "SUCCEEDED")

    run_stage(pipeline.CLEANUP, runtime, ports)

    assert ports.notifier.sent == []  # type: ignore[attr-defined]


def test_a_failing_cleanup_is_reported_with_its_error_and_still_fails(
    ports: pipeline.Ports, runtime: FakeTaskRuntime
) -> None:
    ports.registry.fail_on.add("list_versions")  # type: ignore[attr-defined]

    with pytest.raises(BackendUnavailable):
        run_stage(pipeline.CLEANUP, runtime, ports)

    ((_, notice),) = ports.notifier.sent  # type: ignore[attr-defined]
    assert "failed in cleanup" in notice.subject and "injected failure" in notice.body


def test_what_a_task_runs_is_its_sql_as_written_or_the_body_of_its_stage() -> None:
    from app.tasks import definition_for
    from domain.graph import TaskKind, TaskSpec

    definition = definition_for(lambda stage: f"body of {stage}")

    assert definition(TaskSpec("note", TaskKind.SQL, "SELECT 1")) == "SELECT 1"
    assert definition(TaskSpec("train", TaskKind.PYTHON, pipeline.TRAIN_MODEL)) == "body of train_model"


def test_a_task_of_no_pipeline_stage_is_refused_naming_the_stages() -> None:
    from app.tasks import definition_for
    from domain.graph import TaskKind, TaskSpec

    with pytest.raises(KeyError, match=r"unknown pipeline stage 'tune'; known: \['check_model_quality'"):
        definition_for(lambda stage: stage)(TaskSpec("tune", TaskKind.PYTHON, "tune"))
