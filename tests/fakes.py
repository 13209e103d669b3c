"""In-memory fakes of every port. They keep their state in plain containers; tests assert on that state.

``fail_on`` (a set of method names) makes a fake raise ``BackendUnavailable`` from that method, to inject a
failure into any stage.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    InvalidConfig,
    InvalidData,
    JobFailed,
    JobTimeout,
    NotFound,
)
from domain.graph import (
    MAX_RETURN_VALUE_BYTES,
    DeployedGraph,
    GraphRun,
    GraphRunState,
    GraphSpec,
    ScheduledFrom,
    TaskRun,
    TaskState,
)
from domain.names import normalize_identifier, version_from_timestamp
from domain.readiness import create_compute_pool_sql
from domain.refs import (
    DatasetRef,
    DatasetSplits,
    DatasetVersionInfo,
    FeatureViewRef,
    JobRef,
    JobStatus,
    ModelArtifact,
    ModelVersionInfo,
    Notification,
    TrainingOutcome,
    TrainingRequest,
)
from tests.clocks import T0, FakeClock


class _Failing:
    fail_on: set[str]

    def _maybe_fail(self, method: str) -> None:
        if method in self.fail_on:
            raise BackendUnavailable(f"injected failure in {type(self).__name__}.{method}")


@dataclass
class FakeFeatureStore(_Failing):
    clock: FakeClock
    tables: dict[str, datetime] = field(default_factory=lambda: {"MORTGAGE_LENDING_DEMO_DATA": T0})
    feature_views: set[tuple[str, str]] = field(default_factory=set)
    datasets: dict[tuple[str, str], DatasetVersionInfo] = field(default_factory=dict)
    lineage: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)
    fail_on: set[str] = field(default_factory=set)

    def source_version(self, source_table: str) -> str:
        self._maybe_fail("source_version")
        normalize_identifier(source_table, "table")
        if source_table not in self.tables:
            raise NotFound(f"table {source_table} does not exist")
        return version_from_timestamp(self.tables[source_table])

    def ensure_feature_view(self, source_table: str, version: str) -> FeatureViewRef:
        self._maybe_fail("ensure_feature_view")
        self.feature_views.add(("MORTGAGE_FEATURE_VIEW", version))
        return FeatureViewRef("MORTGAGE_FEATURE_VIEW", version)

    def _ref(self, name: str, version: str) -> DatasetRef:
        return DatasetRef(name, version, ("MORTGAGERESPONSE",), ("TIMESTAMP", "LOAN_ID"))

    def _create(self, name: str, version: str) -> DatasetRef:
        if (name, version) in self.datasets:
            raise AlreadyExists(f"dataset {name} version {version} already exists")
        self.datasets[(name, version)] = DatasetVersionInfo(name, version, self.clock(), 1000)
        return self._ref(name, version)

    def generate_dataset(
        self, name: str, version: str, *, source_table: str, feature_view: FeatureViewRef
    ) -> DatasetRef:
        self._maybe_fail("generate_dataset")
        return self._create(name, version)

    def split_dataset(self, dataset: DatasetRef, *, test_fraction: float) -> DatasetSplits:
        self._maybe_fail("split_dataset")
        train = self._create(dataset.name, f"{dataset.version}_train")
        test = self._create(dataset.name, f"{dataset.version}_test")
        return DatasetSplits(dataset, train, test)

    def get_dataset(self, name: str, version: str) -> DatasetRef:
        normalize_identifier(name, "dataset")
        if (name, version) not in self.datasets:
            raise NotFound(f"dataset {name} version {version} does not exist")
        return self._ref(name, version)

    def list_dataset_versions(self, name: str) -> list[DatasetVersionInfo]:
        self._maybe_fail("list_dataset_versions")
        normalize_identifier(name, "dataset")
        return sorted((d for (n, _), d in self.datasets.items() if n == name), key=lambda d: d.version)

    def delete_dataset_version(self, name: str, version: str) -> None:
        self._maybe_fail("delete_dataset_version")
        if self.datasets.pop((name, version), None) is None:
            raise NotFound(f"dataset {name} version {version} does not exist")

    def downstream_models(self, name: str, version: str) -> list[tuple[str, str]]:
        return sorted(self.lineage.get((name, version), set()))


@dataclass
class FakeJobRunner(_Failing):
    """Trains nothing: every job ends DONE with ``metrics`` (or FAILED with ``error``). ``pools`` maps a
    compute pool to its MAX_NODES; a submission is checked against it as the simulator's ``_check_pool`` does
    (``adapters.simulator.jobs.runner.SimJobRunner._check_pool``)."""

    metrics: dict[str, float] = field(default_factory=dict)
    pools: dict[str, int] = field(default_factory=lambda: {"DEMO_POOL": 2})
    error: str | None = None
    head_log: str = (
        "ML job finished"  # what instance 0 printed: not the error of a job another instance failed
    )
    hangs: bool = False  # jobs never finish: ``wait`` with a timeout raises JobTimeout
    cancelled: list[str] = field(default_factory=list)
    deleted_before: list[datetime] = field(default_factory=list)
    submitted: list[TrainingRequest] = field(default_factory=list)
    jobs: dict[str, tuple[JobStatus, TrainingRequest]] = field(default_factory=dict)
    fail_on: set[str] = field(default_factory=set)
    _ids: Any = field(default_factory=itertools.count)

    def submit_training(self, request: TrainingRequest) -> JobRef:
        self._maybe_fail("submit_training")
        self.check_pool(request.compute_pool, request.target_instances, request.min_instances)
        self.submitted.append(request)
        job = JobRef(f"SNOWBANK.DEV.TRAIN_MODEL_{next(self._ids):08x}")
        status = JobStatus.RUNNING if self.hangs else JobStatus.FAILED if self.error else JobStatus.DONE
        self.jobs[job.id] = (status, request)
        return job

    def check_pool(self, compute_pool: str, target: int, minimum: int | None = None) -> None:
        pool = normalize_identifier(compute_pool, "compute pool")
        if pool not in self.pools:
            raise NotFound(
                f"compute pool {pool} does not exist or not authorized: "
                f"{create_compute_pool_sql(pool, max(target, 2))}"
            )
        if target > self.pools[pool]:
            raise InvalidConfig(
                f"The requested target_instances ({target}) exceeds the max_nodes ({self.pools[pool]}) "
                f"of compute pool {pool}: ALTER COMPUTE POOL {pool} SET MAX_NODES = {target}, or lower "
                "target_instances"
            )
        if minimum is not None and not 0 < minimum <= target:
            raise InvalidConfig(
                f"min_instances must satisfy 0 < min_instances <= target_instances ({target}), got {minimum!r}"
            )

    def _job(self, job: JobRef) -> tuple[JobStatus, TrainingRequest]:
        if job.id not in self.jobs:
            raise NotFound(f"job {job.id} does not exist")
        return self.jobs[job.id]

    def status(self, job: JobRef) -> JobStatus:
        return self._job(job)[0]

    def wait(self, job: JobRef, timeout: float | None = None) -> JobStatus:
        status = self.status(job)
        if not status.is_terminal:
            raise JobTimeout(f"Job {job.name} did not complete within {timeout} seconds")
        return status

    def result(self, job: JobRef, timeout: float | None = None) -> TrainingOutcome:
        status, request = self._job(job)
        if status is not JobStatus.DONE:
            raise JobFailed(f"job {job.id} failed: {self.error}")
        return TrainingOutcome(
            ModelArtifact(f"mem://run_artifacts/{request.model_version}/model.ubj"), dict(self.metrics)
        )

    def logs(self, job: JobRef, instance: int = 0) -> str:
        self._job(job)
        return self.head_log

    def cancel(self, job: JobRef) -> None:
        status, request = self._job(job)
        if not status.is_terminal:
            self.jobs[job.id] = (JobStatus.CANCELLED, request)
            self.cancelled.append(job.id)

    def delete_jobs(self, finished_before: datetime) -> list[str]:
        """Every finished job counts as finished at submission (the fake's jobs take no time)."""
        self.deleted_before.append(finished_before)
        gone = [i for i, (status, _) in self.jobs.items() if status.is_terminal]
        for job_id in gone:
            del self.jobs[job_id]
        return gone


@dataclass
class _Version:
    info: ModelVersionInfo
    artifact: ModelArtifact
    evidence: Mapping[str, Any]


@dataclass
class FakeModelRegistry(_Failing):
    """``scores`` maps a version to the (unprefixed) metrics it gets when re-scored; the default is its own
    logged test metrics."""

    clock: FakeClock
    feature_store: FakeFeatureStore | None = None
    versions: dict[tuple[str, str], _Version] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)  # (model, alias) -> version
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    scored: list[tuple[str, str, DatasetRef]] = field(default_factory=list)
    fail_on: set[str] = field(default_factory=set)

    def _info(self, model: str, version: str) -> ModelVersionInfo:
        v = self.versions[(model, version)].info
        aliases = frozenset(a for (m, a), ver in self.aliases.items() if m == model and ver == version)
        return replace(v, is_default=self.defaults.get(model) == version, aliases=aliases)

    def log_version(
        self,
        *,
        model_name: str,
        version: str,
        artifact: ModelArtifact,
        metrics: Mapping[str, float],
        dataset: DatasetRef,
        comment: str = "",
        evidence: Mapping[str, Any] | None = None,
    ) -> ModelVersionInfo:
        self._maybe_fail("log_version")
        model, version = model_name.upper(), version.upper()
        if (model, version) in self.versions:
            raise AlreadyExists(f"model {model} version {version} already exists")
        info = ModelVersionInfo(
            model,
            version,
            self.clock(),
            metrics=dict(metrics),
            dataset=dataset,
            comment=comment,
            evidence=dict(evidence or {}),
        )
        self.versions[(model, version)] = _Version(info, artifact, dict(evidence or {}))
        self.defaults.setdefault(model, version)
        if self.feature_store is not None:
            self.feature_store.lineage.setdefault((dataset.name, dataset.version), set()).add(
                (model, version)
            )
        return self._info(model, version)

    def get_version(self, model_name: str, version: str) -> ModelVersionInfo:
        key = (model_name.upper(), version.upper())
        if key not in self.versions:
            raise NotFound(f"model {key[0]} has no version {key[1]}")
        return self._info(*key)

    def list_versions(self, model_name: str) -> list[ModelVersionInfo]:
        self._maybe_fail("list_versions")
        model = model_name.upper()
        return [self._info(m, v) for (m, v) in sorted(self.versions) if m == model]

    def default_version(self, model_name: str) -> ModelVersionInfo | None:
        self._maybe_fail("default_version")
        model = model_name.upper()
        return self._info(model, self.defaults[model]) if model in self.defaults else None

    def promote(self, model_name: str, version: str) -> None:
        self._maybe_fail("promote")
        model, version = model_name.upper(), version.upper()
        self.get_version(model, version)
        previous = self.defaults.get(model)
        if previous == version and self.aliases.get((model, "CHAMPION")) == version:
            return
        self.defaults[model] = version
        # Both aliases leave their holders first: a version holds at most one alias at every step.
        moving = ("CHAMPION", "PREVIOUS_CHAMPION") if previous not in (None, version) else ("CHAMPION",)
        for alias in moving:
            self.aliases.pop((model, alias), None)
        if previous is not None and previous != version:
            self._set_alias(model, "PREVIOUS_CHAMPION", previous)
        self._set_alias(model, "CHAMPION", version)

    def _set_alias(self, model: str, alias: str, version: str) -> None:
        """Snowflake's rule (ALTER MODEL docs): a version can have at most one alias, and an alias names one
        version of the model; the simulator and Snowflake registries refuse both with ``Conflict``."""
        held = [(a, v) for (m, a), v in self.aliases.items() if m == model and (v == version or a == alias)]
        if held:
            raise Conflict(
                f"model {model} version {held[0][1]} holds the alias {held[0][0]}; one alias per version"
            )
        self.aliases[(model, alias)] = version

    def set_tag(self, model_name: str, key: str, value: str) -> None:
        self.tags.setdefault(model_name.upper(), {})[key] = value

    def score(self, model_name: str, version: str, dataset: DatasetRef) -> dict[str, float]:
        self._maybe_fail("score")
        info = self.get_version(model_name, version)
        self.scored.append((info.model_name, info.version, dataset))
        if info.version in self.scores:
            return dict(self.scores[info.version])
        return {k.removeprefix("test_"): v for k, v in info.metrics.items() if k.startswith("test_")}

    def delete_version(self, model_name: str, version: str, *, drop_aliases: bool = False) -> None:
        self._maybe_fail("delete_version")
        info = self.get_version(model_name, version)
        if info.is_default or (info.aliases and not drop_aliases):
            raise Conflict(f"version {info.version} of {info.model_name} is the default or aliased")
        self.aliases = {k: v for k, v in self.aliases.items() if (k[0], v) != (info.model_name, info.version)}
        del self.versions[(info.model_name, info.version)]
        self._forget_lineage(lambda m, v: (m, v) == (info.model_name, info.version))

    def delete_model(self, model_name: str) -> None:
        self._maybe_fail("delete_model")
        model = model_name.upper()
        if not any(m == model for m, _ in self.versions):
            raise NotFound(f"model {model} does not exist")
        self.versions = {k: v for k, v in self.versions.items() if k[0] != model}
        self.defaults.pop(model, None)
        self.aliases = {k: v for k, v in self.aliases.items() if k[0] != model}
        self.tags.pop(model, None)
        self._forget_lineage(lambda m, _: m == model)

    def _forget_lineage(self, gone: Callable[[str, str], bool]) -> None:
        if self.feature_store is not None:
            for refs in self.feature_store.lineage.values():
                refs.difference_update({r for r in refs if gone(*r)})


@dataclass
class FakeNotifier(_Failing):
    sent: list[tuple[str, Notification]] = field(default_factory=list)
    integrations: set[str] = field(default_factory=lambda: {"DEMO_NOTIFICATION_INTEGRATION"})
    disabled: set[str] = field(default_factory=set)  # integrations that exist with ENABLED = FALSE
    fail_on: set[str] = field(default_factory=set)

    def send(self, integration: str, message: Notification) -> None:
        self._maybe_fail("send")
        name = normalize_identifier(integration, "notification integration")
        if name not in self.integrations:
            raise NotFound(f"notification integration {name} does not exist")
        if name in self.disabled:
            raise InvalidConfig(f"notification integration {name} is disabled")
        self.sent.append((integration, message))


@dataclass
class FakeTaskRuntime:
    config: dict[str, Any] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # short task name (upper) -> return value
    scheduled: datetime = T0
    task_name: str = "PREPARE_DATA"
    returned: list[str] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)  # short task name (upper) -> state in this run
    run_id: str = "1770000000000"  # the graph run's RUN_ID (epoch milliseconds, as both backends make it)

    def graph_config(self) -> dict[str, Any]:
        return dict(self.config)

    def predecessor_value(self, task_name: str) -> str | None:
        return self.values.get(task_name.upper())

    def set_return_value(self, value: str) -> None:
        if len(str(value).encode()) > MAX_RETURN_VALUE_BYTES:
            raise InvalidData(f"return value larger than {MAX_RETURN_VALUE_BYTES} bytes")
        self.returned.append(str(value))

    def scheduled_time(self) -> datetime:
        return self.scheduled

    def current_task_name(self) -> str:
        return self.task_name

    def task_state(self, task_name: str) -> str:
        return self.states.get(task_name.upper(), "NOT_EXECUTED")

    def graph_run_id(self) -> str:
        return self.run_id


@dataclass
class FakeScheduler:
    """Records deploys and runs; every run ends at once in ``state`` (SUCCEEDED unless set otherwise; EXECUTING
    leaves it in flight for ``cancel``). Run ids are epoch milliseconds, unique, as on both backends."""

    clock: FakeClock
    graphs: dict[str, GraphSpec] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)  # graphs whose root is resumed (scheduled runs happen)
    history: dict[str, list[GraphRun]] = field(default_factory=dict)  # newest first
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> the run's config override
    state: str = "SUCCEEDED"

    def _graph(self, graph_name: str) -> GraphSpec:
        if graph_name not in self.graphs:
            raise NotFound(f"task graph {graph_name} does not exist (deploy it first, or it was dropped)")
        return self.graphs[graph_name]

    def deploy(self, graph: GraphSpec) -> None:
        self.graphs[graph.name] = graph
        if graph.schedule is None:
            self.started.discard(graph.name)
        else:
            self.started.add(graph.name)

    def run(
        self, graph_name: str, *, config: Mapping[str, Any] | None = None, retry_last: bool = False
    ) -> str:
        graph = self._graph(graph_name)
        if retry_last:
            return self._retry_last(graph_name, config)
        taken = {int(r.run_id) for runs in self.history.values() for r in runs}
        run_id = max([int(self.clock().timestamp() * 1000), *(t + 1 for t in taken)])
        state = GraphRunState(self.state)
        task_state = TaskState.EXECUTING if state is GraphRunState.EXECUTING else TaskState.SUCCEEDED
        tasks = tuple(TaskRun(f"{graph_name}${t.name}".upper(), task_state) for t in graph.tasks)
        run = GraphRun(graph_name, str(run_id), state, self.clock(), tasks=tasks)
        self.history.setdefault(graph_name, []).insert(0, run)
        self.configs[run.run_id] = dict(config or {})
        return run.run_id

    def _retry_last(self, graph_name: str, config: Mapping[str, Any] | None) -> str:
        """RETRY LAST: the last run's next attempt (same run id), ending in ``state`` as every fake run does."""
        if config:
            raise InvalidConfig("RETRY LAST reuses the failed run's config; do not pass a config with it")
        last = self.history.get(graph_name, [])[:1]
        if not last or last[0].state not in {GraphRunState.FAILED, GraphRunState.CANCELLED}:
            state = last[0].state if last else "none"
            raise Conflict(
                f"RETRY LAST needs the last run of {graph_name} to be FAILED or CANCELLED; it is {state}"
            )
        retried = replace(
            last[0],
            state=GraphRunState(self.state),
            attempt_number=last[0].attempt_number + 1,
            scheduled_from=ScheduledFrom.MANUAL_RETRY,
        )
        self.history[graph_name].insert(0, retried)
        return retried.run_id

    def wait(self, graph_name: str, run_id: str, timeout: float | None = None) -> GraphRun:
        run = self.run_detail(graph_name, run_id)
        if not run.state.is_terminal:
            raise JobTimeout(f"graph run {run_id} of {graph_name} did not finish within {timeout} s")
        return run

    def runs(self, graph_name: str, limit: int = 20) -> list[GraphRun]:
        return self.history.get(graph_name, [])[:limit]

    def run_detail(self, graph_name: str, run_id: str) -> GraphRun:
        if not run_id.isdigit():
            raise InvalidConfig(f"run id {run_id!r} is not a run id (epoch milliseconds, digits only)")
        run = next((r for r in self.history.get(graph_name, []) if r.run_id == run_id), None)
        if run is None:
            raise NotFound(f"no graph run {run_id} of task graph {graph_name}")
        return run

    def task_history(self, graph_name: str, run_id: str | None = None) -> list[TaskRun]:
        return [t for r in self.runs(graph_name, 10**6) if run_id in (None, r.run_id) for t in r.tasks]

    def deployed(self, graph_name: str) -> DeployedGraph:
        graph = self._graph(graph_name)
        schedule = None if graph.schedule is None else graph.schedule.text()
        state = "started" if graph_name in self.started else "suspended"
        return DeployedGraph(graph_name, dict(graph.config), schedule, state)

    def suspend(self, graph_name: str) -> None:
        self._graph(graph_name)
        self.started.discard(graph_name)

    def resume(self, graph_name: str) -> None:
        self._graph(graph_name)
        self.started.add(graph_name)

    def drop(self, graph_name: str) -> None:
        self._graph(graph_name)
        del self.graphs[graph_name]
        self.started.discard(graph_name)

    def cancel(self, graph_name: str) -> list[str]:
        """EXECUTING runs become CANCELLED, their executing tasks too; returns their ids."""
        self._graph(graph_name)
        runs = self.history.get(graph_name, [])
        executing = [r.run_id for r in runs if r.state is GraphRunState.EXECUTING]
        self.history[graph_name] = [_cancelled(r) if r.run_id in executing else r for r in runs]
        return executing


def _cancelled(run: GraphRun) -> GraphRun:
    tasks = tuple(
        replace(t, state=TaskState.CANCELLED) if t.state is TaskState.EXECUTING else t for t in run.tasks
    )
    return replace(run, state=GraphRunState.CANCELLED, tasks=tasks)
