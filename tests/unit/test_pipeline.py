"""The whole pipeline on in-memory fakes: both branches, and a failure in every stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from domain import pipeline
from domain.config import PipelineConfig, RunConfig
from domain.errors import Conflict, InvalidConfig
from domain.pipeline import Ports, pipeline_graph, run_pipeline
from domain.refs import DatasetVersionInfo, TrainingOutcome
from tests.fakes import (
    T0,
    FakeClock,
    FakeFeatureStore,
    FakeJobRunner,
    FakeModelRegistry,
    FakeNotifier,
    FakeScheduler,
)

GOOD = {"test_accuracy": 0.86, "test_roc_auc": 0.9, "train_accuracy": 0.9, "test_log_loss": 0.3}
WEAK = {"test_accuracy": 0.55, "test_roc_auc": 0.6, "train_accuracy": 0.6, "test_log_loss": 0.7}


@dataclass
class World:
    clock: FakeClock
    fs: FakeFeatureStore
    jobs: FakeJobRunner
    registry: FakeModelRegistry
    notifier: FakeNotifier

    @property
    def ports(self) -> Ports:
        return Ports(self.fs, self.jobs, self.registry, self.notifier, self.clock)

    def run(self, metrics: dict[str, float] | None = None, **kw: object) -> pipeline.PipelineResult:
        if metrics is not None:
            self.jobs.metrics = dict(metrics)
        run = RunConfig.from_graph(PipelineConfig().to_mapping(), self.clock())
        return run_pipeline(self.ports, run, **kw)  # type: ignore[arg-type]

    def new_data(self, days: float = 1) -> None:
        self.clock.advance(days=days)
        self.fs.tables["MORTGAGE_LENDING_DEMO_DATA"] = self.clock()


@pytest.fixture
def world() -> World:
    clock = FakeClock()
    fs = FakeFeatureStore(clock)
    return World(clock, fs, FakeJobRunner(), FakeModelRegistry(clock, fs), FakeNotifier())


def test_a_good_first_model_is_logged_and_becomes_the_default(world: World) -> None:
    result = world.run(GOOD)

    assert result.succeeded
    assert result.states[pipeline.PROMOTE_MODEL] == "SUCCEEDED"
    assert result.states[pipeline.SEND_ALERT] == "SKIPPED"
    default = world.registry.default_version("mortgage_model")
    assert default is not None and default.version == "V20260210_092849"
    assert default.aliases == {"CHAMPION"}
    assert default.metrics == GOOD
    assert default.dataset is not None and default.dataset.version == "v20260210_092849"


def test_promotion_stores_the_gate_evidence_with_the_version(world: World) -> None:
    world.run(GOOD)

    evidence = world.registry.versions[("MORTGAGE_MODEL", "V20260210_092849")].evidence
    assert evidence["gate"]["outcome"] == "promote"


def test_a_weak_model_is_not_logged_and_an_alert_with_numbers_is_sent(world: World) -> None:
    result = world.run(WEAK)

    assert result.succeeded
    assert result.states[pipeline.SEND_ALERT] == "SUCCEEDED"
    assert result.states[pipeline.PROMOTE_MODEL] == "SKIPPED"
    assert world.registry.versions == {}
    ((integration, message),) = world.notifier.sent
    assert integration == "DEMO_NOTIFICATION_INTEGRATION"
    assert "0.55" in message.body and "0.7" in message.body and result.model_version in message.body


def test_a_candidate_worse_than_the_champion_is_not_promoted(world: World) -> None:
    world.run(GOOD)
    world.new_data()

    result = world.run({**GOOD, "test_accuracy": 0.80})

    assert result.decision is not None and not result.decision.promote
    assert world.registry.defaults["MORTGAGE_MODEL"] == "V20260210_092849"
    champion_scored_on = {d.version for _, _, d in world.registry.scored}
    assert "v20260211_092849_test" in champion_scored_on


def test_a_better_candidate_replaces_the_champion_and_keeps_the_previous_addressable(world: World) -> None:
    world.run(GOOD)
    world.new_data()

    world.run({**GOOD, "test_accuracy": 0.9})

    assert world.registry.defaults["MORTGAGE_MODEL"] == "V20260211_092849"
    assert world.registry.aliases[("MORTGAGE_MODEL", "PREVIOUS_CHAMPION")] == "V20260210_092849"


def test_no_register_trains_and_evaluates_but_logs_nothing(world: World) -> None:
    result = world.run(GOOD, no_register=True)

    assert result.states[pipeline.CHECK_MODEL_QUALITY] == "SUCCEEDED"
    assert result.states[pipeline.PROMOTE_MODEL] == "SKIPPED"
    assert world.registry.versions == {}


def test_the_dataset_of_unchanged_source_data_is_reused(world: World) -> None:
    world.run(GOOD)
    created = dict(world.fs.datasets)
    world.clock.advance(hours=1)

    world.run(GOOD)

    assert world.fs.datasets == created


def test_missing_splits_are_rebuilt_instead_of_failing_on_the_existing_base_version(world: World) -> None:
    world.fs.datasets[("mortgage_dataset", "v20260210_092849")] = _info("v20260210_092849")
    world.fs.datasets[("mortgage_dataset", "v20260210_092849_train")] = _info("v20260210_092849_train")

    result = world.run(GOOD)

    assert result.succeeded
    assert ("mortgage_dataset", "v20260210_092849_test") in world.fs.datasets


def test_force_refresh_rebuilds_the_dataset_versions(world: World) -> None:
    world.run(GOOD)
    world.clock.advance(hours=1)

    world.run(GOOD, force_refresh=True)

    assert world.fs.datasets[("mortgage_dataset", "v20260210_092849")].created_on == world.clock()


@pytest.mark.parametrize(
    ("port", "method", "failed_task"),
    [
        ("fs", "source_version", pipeline.PREPARE_DATA),
        ("fs", "generate_dataset", pipeline.PREPARE_DATA),
        ("fs", "split_dataset", pipeline.PREPARE_DATA),
        ("jobs", "submit_training", pipeline.TRAIN_MODEL),
        ("registry", "default_version", pipeline.CHECK_MODEL_QUALITY),
        ("registry", "log_version", pipeline.PROMOTE_MODEL),
        ("registry", "promote", pipeline.PROMOTE_MODEL),
    ],
)
def test_a_failing_stage_fails_the_run_notifies_and_cleanup_still_runs(
    world: World, port: str, method: str, failed_task: str
) -> None:
    world.run(GOOD)
    world.new_data()
    getattr(world, port).fail_on.add(method)

    result = world.run({**GOOD, "test_accuracy": 0.95})

    assert result.states[failed_task] == "FAILED"
    assert result.states[pipeline.CLEANUP] == "SUCCEEDED"
    assert not result.succeeded and method in result.error
    assert world.registry.defaults["MORTGAGE_MODEL"] == "V20260210_092849"
    assert [v for (_, v) in world.registry.versions] == ["V20260210_092849"]
    assert any("failed in " + failed_task in m.subject for _, m in world.notifier.sent)


def test_a_failing_alert_fails_its_task_and_cleanup_still_runs(world: World) -> None:
    world.notifier.integrations.clear()

    result = world.run(WEAK)

    assert result.states[pipeline.SEND_ALERT] == "FAILED"
    assert result.states[pipeline.CLEANUP] == "SUCCEEDED"


def test_a_failing_cleanup_fails_the_run_after_promotion(world: World) -> None:
    world.registry.fail_on.add("list_versions")

    result = world.run(GOOD)

    assert result.states[pipeline.CLEANUP] == "FAILED"
    assert result.states[pipeline.PROMOTE_MODEL] == "SUCCEEDED"


def test_a_failed_training_job_reports_its_error(world: World) -> None:
    world.jobs.error = "training data has one class"

    result = world.run(GOOD)

    assert result.states[pipeline.TRAIN_MODEL] == "FAILED"
    assert "one class" in result.error


def test_a_failed_training_job_is_named_in_the_tasks_error_for_its_logs(world: World) -> None:
    world.jobs.error = "training data has one class"

    result = world.run(GOOD)

    assert pipeline.failed_training_job(result.error) == "SNOWBANK.DEV.TRAIN_MODEL_00000000"


def test_a_killed_worker_is_reported_by_its_root_cause_not_the_heads_log(world: World) -> None:
    world.jobs.error = "instance 1 exited with signal SIGKILL"
    world.jobs.head_log = "Traceback ...\nXGBoostError: [allreduce] socket closed by peer"

    result = world.run(GOOD)

    assert "instance 1 exited with signal SIGKILL" in result.error
    assert "allreduce" not in result.error


def test_a_training_job_over_its_timeout_is_cancelled(world: World) -> None:
    world.jobs.hangs = True

    result = world.run(GOOD)

    assert result.states[pipeline.TRAIN_MODEL] == "FAILED"
    assert "did not complete within 3600 seconds" in result.error
    assert world.jobs.cancelled == ["SNOWBANK.DEV.TRAIN_MODEL_00000000"]  # the one job submitted


def test_promotion_rechecks_the_gate_against_the_current_champion(world: World) -> None:
    world.run(GOOD)
    world.new_data()
    world.jobs.metrics = {**GOOD, "test_accuracy": 0.88}
    run = RunConfig.from_graph(PipelineConfig().to_mapping(), world.clock())
    splits = pipeline.prepare_data(world.ports, run)
    outcome = pipeline.train_model(world.ports, run, splits)
    world.registry.scores["V20260210_092849"] = {"accuracy": 0.99, "roc_auc": 0.99}  # champion got better

    with pytest.raises(Conflict, match="refusing to promote"):
        pipeline.promote_model(world.ports, run, splits, outcome)

    assert ("MORTGAGE_MODEL", "V20260211_092849") not in world.registry.versions


def test_promotion_is_idempotent_for_a_version_logged_by_an_earlier_attempt(world: World) -> None:
    run = RunConfig.from_graph(PipelineConfig().to_mapping(), world.clock())
    world.jobs.metrics = dict(GOOD)
    splits = pipeline.prepare_data(world.ports, run)
    outcome = pipeline.train_model(world.ports, run, splits)
    pipeline.promote_model(world.ports, run, splits, outcome)

    promoted, _ = pipeline.promote_model(world.ports, run, splits, outcome)

    assert promoted.is_default and len(world.registry.versions) == 1


def test_a_version_whose_promotion_failed_is_removed_again(world: World) -> None:
    world.run(GOOD)
    world.new_data()
    world.registry.fail_on.add("promote")

    world.run({**GOOD, "test_accuracy": 0.95})

    assert ("MORTGAGE_MODEL", "V20260211_092849") not in world.registry.versions


def test_cleanup_is_a_no_op_before_the_first_model_exists(world: World) -> None:
    run = RunConfig.from_graph(PipelineConfig().to_mapping(), world.clock())

    plan = pipeline.cleanup(world.ports, run)

    assert plan.model_versions == () and plan.dataset_versions == ()


def test_cleanup_removes_expired_versions_but_never_the_champion_or_its_data(world: World) -> None:
    world.run(GOOD)
    for _ in range(3):
        world.new_data(days=3)
        world.run({**GOOD, "test_accuracy": 0.8})  # alerts: nothing logged, datasets accumulate
    world.new_data(days=3)
    world.run({**GOOD, "test_accuracy": 0.9})  # promoted; the first version keeps PREVIOUS_CHAMPION
    world.new_data(days=8)
    world.run({**GOOD, "test_accuracy": 0.95})

    versions = {v for (_, v) in world.registry.versions}
    assert versions == {"V20260222_092849", "V20260302_092849"}
    dataset_versions = {v for (_, v) in world.fs.datasets}
    assert "v20260210_092849" not in dataset_versions  # its model version expired and was removed
    assert {"v20260222_092849", "v20260222_092849_train", "v20260222_092849_test"} <= dataset_versions
    assert "v20260213_092849" not in dataset_versions  # never referenced, expired


def test_cleanup_deletes_the_training_jobs_past_the_expiry(world: World) -> None:
    world.run(GOOD)

    assert world.jobs.jobs == {}
    assert world.jobs.deleted_before == [world.clock() - timedelta(days=PipelineConfig().expiry_days)]


def test_the_graph_is_the_guides_shape() -> None:
    graph = pipeline_graph(PipelineConfig())

    assert graph.edges() == sorted(
        [
            ("MORTGAGE_PIPELINE", "prepare_data"),
            ("prepare_data", "train_model"),
            ("train_model", "check_model_quality"),
            ("check_model_quality", "promote_model"),
            ("check_model_quality", "send_alert"),
        ]
    )
    assert graph.task("check_model_quality").is_branch
    assert graph.finalizer is not None and graph.finalizer.name == "cleanup"
    assert graph.config["metric_name"] == "test_accuracy" and graph.config["metric_threshold"] == 0.7


def test_the_model_version_names_every_artifact_of_the_run(world: World) -> None:
    world.run(GOOD)

    (request,) = world.jobs.submitted
    assert request.model_version == "v20260210_092849"
    assert request.target_instances == 2 and request.compute_pool == "DEMO_POOL"
    assert "LOAN_ID" in request.train.exclude_cols


def _info(version: str) -> DatasetVersionInfo:
    return DatasetVersionInfo("mortgage_dataset", version, T0)


def test_a_first_version_whose_promotion_failed_leaves_no_model_behind(world: World) -> None:
    world.registry.fail_on.add("promote")

    result = world.run(GOOD)

    assert result.states[pipeline.PROMOTE_MODEL] == "FAILED"
    assert world.registry.versions == {} and world.registry.default_version("mortgage_model") is None
    (failure,) = [m for _, m in world.notifier.sent if "failed in promote_model" in m.subject]
    assert "has no default version" in failure.body


def test_the_failure_notice_names_the_default_version_as_it_is(world: World) -> None:
    world.run(GOOD)
    world.new_data()
    world.jobs.fail_on.add("submit_training")

    world.run(GOOD)

    (failure,) = [m for _, m in world.notifier.sent if "failed in train_model" in m.subject]
    assert "The default version of mortgage_model is V20260210_092849." in failure.body


def test_a_deploy_asking_more_instances_than_the_pool_has_deploys_nothing() -> None:
    scheduler = FakeScheduler(FakeClock())
    cfg = PipelineConfig(target_instances=3)
    with pytest.raises(InvalidConfig, match=r"ALTER COMPUTE POOL DEMO_POOL SET MAX_NODES = 3"):
        pipeline.deploy_graph(FakeJobRunner(pools={"DEMO_POOL": 2}), scheduler, pipeline_graph(cfg), cfg)
    assert scheduler.graphs == {}


def test_a_deploy_on_a_pool_that_holds_the_instances_deploys_the_graph() -> None:
    scheduler = FakeScheduler(FakeClock())
    cfg = PipelineConfig(target_instances=2)
    graph = pipeline_graph(cfg)
    pipeline.deploy_graph(FakeJobRunner(pools={"DEMO_POOL": 2}), scheduler, graph, cfg)
    assert scheduler.graphs == {graph.name: graph}


def test_the_training_outcome_names_the_job_that_trained_it_so_its_logs_can_be_found(world: World) -> None:
    run = RunConfig.from_graph(PipelineConfig().to_mapping(), world.clock())
    outcome = pipeline.train_model(world.ports, run, pipeline.prepare_data(world.ports, run))

    assert outcome.job_id is not None and outcome.job_id in world.jobs.jobs
    assert TrainingOutcome.from_json(outcome.to_json()).job_id == outcome.job_id
