"""The pipeline's stages as use cases over the ports, and the task graph that orchestrates them.

Each stage is a plain function of the ports and the run config; values flow between stages as the small
references of ``domain.refs`` (JSON return values in the task graph). Stages never touch bulk data.

Decisions on the guide's rough edges (see ARCHITECTURE.md): join keys and timestamps are never features; the
split is deterministic; the gate compares against the re-scored champion; promotion re-checks the gate right
before it flips the default, so a champion that changed since the branch was taken can never be regressed;
cleanup is a no-op before the first model exists.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from domain.config import DEPLOYMENT_PREFIX, PipelineConfig, RunConfig
from domain.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    InvalidData,
    JobFailed,
    JobTimeout,
    NotFound,
    StoreDamaged,
)
from domain.gating import GateDecision, evaluate_gate
from domain.graph import GraphSpec, OverlapPolicy, TaskKind, TaskSpec
from domain.metrics import prefixed
from domain.ports import FeatureStore, JobRunner, ModelRegistry, Notifier, Scheduler
from domain.refs import (
    DatasetRef,
    DatasetSplits,
    ModelVersionInfo,
    Notification,
    TrainingOutcome,
    TrainingRequest,
)
from domain.retention import RetentionPlan, plan_retention
from domain.schedule import Clock, Schedule, utc_now

log = logging.getLogger(__name__)

PREPARE_DATA = "prepare_data"
TRAIN_MODEL = "train_model"
CHECK_MODEL_QUALITY = "check_model_quality"
PROMOTE_MODEL = "promote_model"
SEND_ALERT = "send_alert"
CLEANUP = "cleanup"
STAGES = (PREPARE_DATA, TRAIN_MODEL, CHECK_MODEL_QUALITY, PROMOTE_MODEL, SEND_ALERT, CLEANUP)
DEFAULT_GRAPH_NAME = "MORTGAGE_PIPELINE"


@dataclass(frozen=True)
class Ports:
    """The backend, as the stages see it."""

    feature_store: FeatureStore
    jobs: JobRunner
    registry: ModelRegistry
    notifier: Notifier
    clock: Clock = utc_now


# --- stages -------------------------------------------------------------------------------------------------


def prepare_data(ports: Ports, run: RunConfig, *, force_refresh: bool = False) -> DatasetSplits:
    """Reuse the dataset version of the current source data, or build it (and its splits) from the feature view.

    A version whose splits are missing (a crash between writes) gets its splits, rather than failing on the
    existing base version as the guide does; a version whose files are damaged or missing (``InvalidData`` from
    ``get_dataset``) is rebuilt, with its splits when it is the base version.
    """
    cfg = run.pipeline
    fs = ports.feature_store
    version = fs.source_version(cfg.source_table)
    names = (version, f"{version}_train", f"{version}_test")
    if force_refresh:
        _delete_versions(fs, cfg.dataset_name, names)
    full: DatasetRef | None = None
    try:
        full = fs.get_dataset(cfg.dataset_name, version)
    except InvalidData as exc:  # a damaged or missing file of the version: rebuilt with its splits
        log.warning("rebuilding dataset %s version %s and its splits: %s", cfg.dataset_name, version, exc)
        _delete_versions(fs, cfg.dataset_name, names)
    except NotFound:
        pass
    if full is None:
        view = fs.ensure_feature_view(cfg.source_table, version)
        full = fs.generate_dataset(
            cfg.dataset_name, version, source_table=cfg.source_table, feature_view=view
        )
    try:
        train = fs.get_dataset(cfg.dataset_name, names[1])
        test = fs.get_dataset(cfg.dataset_name, names[2])
    except (NotFound, InvalidData) as exc:
        if isinstance(exc, InvalidData):
            log.warning("rebuilding the splits of dataset %s version %s: %s", cfg.dataset_name, version, exc)
        _delete_versions(fs, cfg.dataset_name, names[1:])  # a half-written or damaged pair is rebuilt whole
        return fs.split_dataset(full, test_fraction=cfg.test_fraction)
    return DatasetSplits(full=full, train=train, test=test)


def _delete_versions(fs: FeatureStore, dataset: str, versions: tuple[str, ...]) -> None:
    for v in versions:
        with contextlib.suppress(NotFound):
            fs.delete_dataset_version(dataset, v)


def training_request(run: RunConfig, splits: DatasetSplits) -> TrainingRequest:
    cfg = run.pipeline
    return TrainingRequest(
        train=splits.train,
        test=splits.test,
        params=cfg.xgboost_params(),
        num_boost_round=cfg.num_boost_round,
        model_version=run.model_version,
        compute_pool=cfg.compute_pool,
        target_instances=cfg.target_instances,
    )


def train_model(ports: Ports, run: RunConfig, splits: DatasetSplits) -> TrainingOutcome:
    """Train as an ML Job on the compute pool and wait for it, bounded by the job timeout."""
    job = ports.jobs.submit_training(training_request(run, splits))
    log.info("training job %s submitted on %s", job.id, run.pipeline.compute_pool)
    try:
        ports.jobs.wait(job, timeout=run.pipeline.job_timeout_seconds)
    except JobTimeout:
        ports.jobs.cancel(job)  # a timeout ends the job too: its workers must not train on
        raise
    # The runner's own error names the root cause (the instance that died), not the head's last log lines.
    try:
        return replace(ports.jobs.result(job), job_id=job.id)
    except JobFailed as exc:
        # A failed task returns no value, so its error is where `logs --instance N` finds the job.
        raise JobFailed(f"{_FAILED_JOB_PREFIX}{job.id} failed: {exc}") from exc


_FAILED_JOB_PREFIX = "training job "
_FAILED_JOB = re.compile(re.escape(_FAILED_JOB_PREFIX) + r"(\S+) failed: ")


def failed_training_job(error_message: str | None) -> str | None:
    """The id of the ML Job a failed ``train_model`` names in its error (``None`` when it names none)."""
    match = _FAILED_JOB.search(error_message or "")
    return match.group(1) if match else None


def check_model_quality(
    ports: Ports, run: RunConfig, splits: DatasetSplits, outcome: TrainingOutcome
) -> GateDecision:
    """The gate: the candidate's metrics against the floor and against the champion re-scored on this test set."""
    cfg = run.pipeline
    champion = ports.registry.default_version(cfg.model_name)
    champion_metrics = None
    if champion is not None:
        champion_metrics = prefixed(
            "test", ports.registry.score(cfg.model_name, champion.version, splits.test)
        )
    return evaluate_gate(
        cfg,
        outcome.metrics,
        champion_metrics,
        champion_version=None if champion is None else champion.version,
        promote_task=PROMOTE_MODEL,
        alert_task=SEND_ALERT,
    )


def promote_model(
    ports: Ports, run: RunConfig, splits: DatasetSplits, outcome: TrainingOutcome
) -> tuple[ModelVersionInfo, GateDecision]:
    """Log the candidate with its metrics, lineage and gate evidence, and make it the default.

    The gate is evaluated again here, against the champion of this moment: if the champion changed since the
    branch chose this task and the candidate no longer passes, nothing is logged and the task fails. A version
    already logged by an earlier attempt of this run is reused (promotion is idempotent).
    """
    cfg = run.pipeline
    decision = check_model_quality(ports, run, splits, outcome)
    if not decision.promote:
        raise Conflict(f"refusing to promote {cfg.model_name} {run.model_version}: {decision.summary()}")
    registry = ports.registry
    try:
        registry.log_version(
            model_name=cfg.model_name,
            version=run.model_version,
            artifact=outcome.artifact,
            metrics=outcome.metrics,
            dataset=splits.full,
            comment=f"XGBoost model for predicting loan approval likelihood (run {run.model_version}).",
            evidence={"gate": decision.to_dict(), "graph_run_id": run.graph_run_id},
        )
        logged_now = True
    except AlreadyExists:
        logged_now = False
    try:
        registry.promote(cfg.model_name, run.model_version)
    except DomainError:
        if logged_now:
            _undo_log(
                registry, cfg.model_name, run.model_version, model_was_new=decision.champion_version is None
            )
        raise
    promoted = registry.get_version(cfg.model_name, run.model_version)
    if cfg.notify_on_promotion:
        _notify_quietly(ports, cfg, promotion_message(cfg, run, decision, promoted))
    return promoted, decision


def send_alert(ports: Ports, run: RunConfig, splits: DatasetSplits, outcome: TrainingOutcome) -> GateDecision:
    """Tell people the candidate was not promoted, with the numbers that decided it."""
    decision = check_model_quality(ports, run, splits, outcome)
    ports.notifier.send(run.pipeline.notification_integration, alert_message(run.pipeline, run, decision))
    return decision


def cleanup(ports: Ports, run: RunConfig) -> RetentionPlan:
    """Delete expired, unreferenced model and dataset versions; a no-op before the first model exists."""
    cfg = run.pipeline
    fs, registry = ports.feature_store, ports.registry
    model_versions = registry.list_versions(cfg.model_name)
    dataset_versions = fs.list_dataset_versions(cfg.dataset_name)
    lineage = {
        d.version: fs.downstream_models(cfg.dataset_name, d.version)
        for d in dataset_versions
        if not d.version.endswith(("_train", "_test"))
    }
    now = ports.clock()
    plan = plan_retention(
        now=now,
        expiry_days=cfg.expiry_days,
        model_versions=model_versions,
        dataset_versions=dataset_versions,
        lineage=lineage,
    )
    for version in plan.model_versions:
        registry.delete_version(cfg.model_name, version)
    for version in plan.dataset_versions:
        fs.delete_dataset_version(cfg.dataset_name, version)
    # The training jobs expire as versions do: their logs and each run's model file (the registry has a copy).
    jobs = ports.jobs.delete_jobs(finished_before=now - timedelta(days=cfg.expiry_days))
    if jobs:
        log.info("deleted %d finished training jobs", len(jobs))
    return plan


def notify_failure(ports: Ports, run: RunConfig, failures: Mapping[str, str | None]) -> None:
    """One notice per failed run, naming every failed task (with its error where known) and the default version
    as it now is. A notification problem never hides the original failure."""
    cfg, model_version = run.pipeline, run.model_version
    lines = [
        f"- {task}: {error}" if error else f"- {task} (its error is in the task history)"
        for task, error in failures.items()
    ]
    _notify_quietly(
        ports,
        cfg,
        Notification(
            subject=f"[{cfg.model_name}] pipeline run {model_version} failed in {', '.join(failures)}",
            body=f"Run {model_version} of the {cfg.model_name} pipeline failed.\n"
            + _graph_run_line(run)
            + "\n".join(lines)
            + "\n"
            + _default_line(ports, cfg.model_name),
        ),
    )


def reconcile_crashed_run(ports: Ports, run: RunConfig) -> dict[str, str]:
    """A run whose process ended mid-way (killed): its finalizer never ran, so this sends its failure notice,
    and says what its promotion had done — the registry's state stands, the history is told. Returns the
    interrupted tasks with what each had done (``promote_model``, when the run's version is in the registry)."""
    cfg = run.pipeline
    interrupted: dict[str, str] = {}
    try:
        version: ModelVersionInfo | None = ports.registry.get_version(cfg.model_name, run.model_version)
    except NotFound:
        version = None
    except DomainError as exc:
        log.warning("could not read %s version %s: %s", cfg.model_name, run.model_version, exc)
        version = None
    if version is not None:
        interrupted[PROMOTE_MODEL] = (
            f"it had made {cfg.model_name} version {version.version} the default"
            + (f" ({', '.join(sorted(version.aliases))})" if version.aliases else "")
            if version.is_default
            else f"it had logged {cfg.model_name} version {version.version}, which is not the default"
        )
    notify_failure(
        ports,
        run,
        {"the run's process": "ended unexpectedly (killed or crashed); cleanup did not run", **interrupted},
    )
    return interrupted


def _default_line(ports: Ports, model_name: str) -> str:
    """What the model's default version is now (read back, not assumed)."""
    try:
        default = ports.registry.default_version(model_name)
    except StoreDamaged:  # a damaged store fails the task that read it, never a line of a notice
        raise
    except DomainError as exc:
        return f"The default version of {model_name} could not be read: {exc}"
    if default is None:
        return f"{model_name} has no default version."
    return f"The default version of {model_name} is {default.version}."


def _notify_quietly(ports: Ports, cfg: PipelineConfig, message: Notification) -> None:
    try:
        ports.notifier.send(cfg.notification_integration, message)
    except StoreDamaged:  # a damaged store fails the task, never a warning beside a SUCCEEDED run
        raise
    except DomainError as exc:
        log.warning("notification through %s failed: %s", cfg.notification_integration, exc)


def _undo_log(registry: ModelRegistry, model_name: str, version: str, *, model_was_new: bool) -> None:
    """Take back a version whose promotion failed. The first version of a new model is its default as soon as
    it is logged, so then the whole model goes: a failed run must not leave a default behind."""
    try:
        if model_was_new:
            registry.delete_model(model_name)
        else:
            registry.delete_version(model_name, version)
    except DomainError as exc:
        log.warning("could not take back unpromoted version %s of %s: %s", version, model_name, exc)


def _graph_run_line(run: RunConfig) -> str:
    """Which task graph run this was (``runs show`` takes it), when the run is one."""
    return "" if run.graph_run_id is None else f"Graph run: {run.graph_run_id}\n"


def alert_message(cfg: PipelineConfig, run: RunConfig, decision: GateDecision) -> Notification:
    return Notification(
        subject=f"[{cfg.model_name}] candidate {run.model_version} not promoted",
        body="Model quality check failed: the candidate was not promoted.\n"
        f"Run: {run.model_version}\n{_graph_run_line(run)}{decision.summary()}\n"
        + "\n".join(f"- {r}" for r in decision.reasons),
    )


def promotion_message(
    cfg: PipelineConfig, run: RunConfig, decision: GateDecision, version: ModelVersionInfo
) -> Notification:
    return Notification(
        subject=f"[{cfg.model_name}] {version.version} promoted to default",
        body=f"Run {run.model_version} promoted {cfg.model_name} version {version.version}.\n"
        f"{_graph_run_line(run)}{decision.summary()}",
    )


@dataclass(frozen=True)
class PipelineResult:
    """What one in-process run of the pipeline did (the guide's ``pipeline_local.py``)."""

    model_version: str
    states: dict[str, str]
    decision: GateDecision | None = None
    promoted: ModelVersionInfo | None = None
    cleanup: RetentionPlan | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def run_pipeline(
    ports: Ports, run: RunConfig, *, no_register: bool = False, force_refresh: bool = False
) -> PipelineResult:
    """Run the stages in order in this process, with the task graph's rules: the branch runs one successor,
    a failure stops its descendants and notifies, and cleanup always runs last.
    """
    states = dict.fromkeys(STAGES, "NOT_EXECUTED")
    decision = promoted = plan = None
    failures: dict[str, str | None] = {}
    current = PREPARE_DATA
    try:
        splits = prepare_data(ports, run, force_refresh=force_refresh)
        states[current] = "SUCCEEDED"
        current = TRAIN_MODEL
        outcome = train_model(ports, run, splits)
        states[current] = "SUCCEEDED"
        current = CHECK_MODEL_QUALITY
        decision = check_model_quality(ports, run, splits, outcome)
        states[current] = "SUCCEEDED"
        chosen = decision.successor
        skipped = SEND_ALERT if chosen == PROMOTE_MODEL else PROMOTE_MODEL
        states[skipped] = "SKIPPED"
        current = chosen
        if no_register:
            states[chosen] = "SKIPPED"
        elif chosen == PROMOTE_MODEL:
            promoted, decision = promote_model(ports, run, splits, outcome)
            states[current] = "SUCCEEDED"
        else:
            decision = send_alert(ports, run, splits, outcome)
            states[current] = "SUCCEEDED"
    except Exception as exc:  # any failure, expected or not, fails its task and cleanup still runs
        states[current] = "FAILED"
        failures[current] = f"{type(exc).__name__}: {exc}"
    try:
        plan = cleanup(ports, run)
        states[CLEANUP] = "SUCCEEDED"
    except Exception as exc:
        states[CLEANUP] = "FAILED"
        failures[CLEANUP] = f"{type(exc).__name__}: {exc}"
    if failures:
        notify_failure(ports, run, failures)
    error = next((f"{task}: {text}" for task, text in failures.items()), None)
    return PipelineResult(run.model_version, states, decision, promoted, plan, error)


# --- the task graph -----------------------------------------------------------------------------------------


def deploy_graph(jobs: JobRunner, scheduler: Scheduler, graph: GraphSpec, cfg: PipelineConfig) -> None:
    """Deploy the pipeline's graph, first refusing a config every run would fail on: the training job's pool
    must exist and hold ``target_instances`` (the JobRunner judges it as a submission would). Nothing is
    deployed when it does not."""
    jobs.check_pool(cfg.compute_pool, cfg.target_instances)
    scheduler.deploy(graph)


def pipeline_graph(
    config: PipelineConfig,
    *,
    name: str = DEFAULT_GRAPH_NAME,
    schedule: Schedule | None = None,
    warehouse: str | None = None,
    task_auto_retry_attempts: int = 0,
    task_timeout_ms: int | None = None,
    overlap_policy: OverlapPolicy = OverlapPolicy.NO_OVERLAP,
    deployment: Mapping[str, str] | None = None,
) -> GraphSpec:
    """The guide's graph: prepare → train (ML Job) → check (branch) → promote | alert; cleanup as finalizer.

    ``deployment`` names where the graph is deployed (database, schema…); it travels in the graph config under
    ``deployment.`` so that tasks running inside the backend find the same objects.
    """

    def task(name: str, kind: TaskKind = TaskKind.PYTHON, *preds: str, **kw: object) -> TaskSpec:
        return TaskSpec(name=name, kind=kind, definition=name, predecessors=preds, **kw)  # type: ignore[arg-type]

    return GraphSpec(
        name=name,
        tasks=(
            task(PREPARE_DATA),
            task(TRAIN_MODEL, TaskKind.ML_JOB, PREPARE_DATA),
            task(CHECK_MODEL_QUALITY, TaskKind.PYTHON, TRAIN_MODEL, is_branch=True),
            task(PROMOTE_MODEL, TaskKind.PYTHON, CHECK_MODEL_QUALITY),
            task(SEND_ALERT, TaskKind.PYTHON, CHECK_MODEL_QUALITY),
            task(CLEANUP, TaskKind.PYTHON, is_finalizer=True),
        ),
        config={**config.to_mapping(), **{DEPLOYMENT_PREFIX + k: v for k, v in (deployment or {}).items()}},
        schedule=schedule,
        warehouse=warehouse,
        comment="Feature Store → ML Job training → quality gate → promote or alert; cleanup always runs.",
        task_auto_retry_attempts=task_auto_retry_attempts,
        user_task_timeout_ms=task_timeout_ms,
        overlap_policy=overlap_policy,
    )
