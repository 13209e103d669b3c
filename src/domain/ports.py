"""Ports: what the pipeline needs from a backend, as ``typing.Protocol``.

Two backends implement every port: ``adapters.snowflake`` (the real account) and ``adapters.simulator``
(a local account on DuckDB and XGBoost). Both raise only ``domain.errors`` exceptions, and both honour the
contracts stated here; ``contracts/`` holds one test suite per port that runs against each backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from domain.graph import DeployedGraph, GraphRun, GraphSpec, TaskRun
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


@runtime_checkable
class FeatureStore(Protocol):
    """Source data, the entity and versioned feature view, and immutable point-in-time dataset versions.

    Contract:
    - ``source_version`` is ``vYYYYmmdd_HHMMSS`` of the source table's last-altered time; the same data gives
      the same version. A missing table raises ``NotFound``.
    - ``ensure_feature_view`` registers the entity and the feature view for that data version; registering
      what exists is a no-op (it returns the existing view).
    - ``generate_dataset`` joins the spine (key, timestamp, label) point-in-time to the feature view: each spine
      row gets the latest feature row at or before its timestamp; unmatched rows are kept with nulls. An
      existing ``(name, version)`` raises ``AlreadyExists``; nothing is written on failure.
    - ``split_dataset`` writes ``<v>_train`` and ``<v>_test`` from a hash of the entity key: the same key lands
      in the same split for every data version. Existing splits raise ``AlreadyExists``.
    - ``get_dataset`` raises ``NotFound``, and ``InvalidData`` (naming the file and the repair) for a version
      whose stored files are missing or damaged; ``list_dataset_versions`` returns ``[]`` for an unknown dataset;
      ``delete_dataset_version`` raises ``NotFound`` for an unknown version.
    - ``downstream_models`` lists ``(model_name, version)`` pairs whose lineage points at the dataset version.
    - Names that are not valid identifiers raise ``InvalidName``.
    """

    def source_version(self, source_table: str) -> str: ...

    def ensure_feature_view(self, source_table: str, version: str) -> FeatureViewRef: ...

    def generate_dataset(
        self, name: str, version: str, *, source_table: str, feature_view: FeatureViewRef
    ) -> DatasetRef: ...

    def split_dataset(self, dataset: DatasetRef, *, test_fraction: float) -> DatasetSplits: ...

    def get_dataset(self, name: str, version: str) -> DatasetRef: ...

    def list_dataset_versions(self, name: str) -> list[DatasetVersionInfo]: ...

    def delete_dataset_version(self, name: str, version: str) -> None: ...

    def downstream_models(self, name: str, version: str) -> list[tuple[str, str]]: ...


@runtime_checkable
class JobRunner(Protocol):
    """Training as an ML Job on a compute pool with N instances that train one model together.

    Contract:
    - ``submit_training`` returns at once with the job PENDING; it raises ``InvalidConfig`` when
      ``target_instances`` exceeds the pool's max nodes or ``min_instances`` is out of range, ``NotFound`` for
      an unknown pool.
    - Status moves PENDING → RUNNING → DONE | FAILED | CANCELLED.
    - ``wait`` returns the terminal status (it does not raise on FAILED) or raises ``JobTimeout``.
    - ``result`` returns the outcome of a DONE job and raises ``JobFailed`` carrying the remote error otherwise.
    - ``logs`` returns one instance's log (0 is the head); ``cancel`` on a finished job is a no-op.
    - ``delete_jobs`` deletes the training jobs that finished before ``finished_before`` — their records, logs
      and the model file each left for its run — and returns their ids; unfinished jobs are never touched.
    - An unknown job raises ``NotFound``.
    - ``check_pool`` raises what ``submit_training`` would raise for these pool settings (``NotFound`` for an
      unknown pool, ``InvalidConfig`` for too many instances, each with the statement that fixes it) and submits
      nothing: a deploy calls it, so that a graph every run of which would fail is refused up front.
    """

    def check_pool(
        self, compute_pool: str, target_instances: int, min_instances: int | None = None
    ) -> None: ...

    def submit_training(self, request: TrainingRequest) -> JobRef: ...

    def status(self, job: JobRef) -> JobStatus: ...

    def wait(self, job: JobRef, timeout: float | None = None) -> JobStatus: ...

    def result(self, job: JobRef, timeout: float | None = None) -> TrainingOutcome: ...

    def logs(self, job: JobRef, instance: int = 0) -> str: ...

    def cancel(self, job: JobRef) -> None: ...

    def delete_jobs(self, finished_before: datetime) -> list[str]: ...


@runtime_checkable
class ModelRegistry(Protocol):
    """Model versions with metrics, dataset lineage, a default version, aliases and tags.

    Contract:
    - ``log_version`` stores the model file, metrics, lineage to ``dataset``, comment and ``evidence`` (the gate
      decision) atomically; an existing version raises ``AlreadyExists`` and writes nothing. The first version of
      a new model becomes its default, as in Snowflake.
    - ``promote`` makes the version the default and moves the ``CHAMPION`` alias to it and ``PREVIOUS_CHAMPION``
      to the former default, all or nothing; promoting the current default again changes nothing.
    - ``list_versions`` returns ``[]`` for an unknown model; ``get_version`` raises ``NotFound``;
      ``default_version`` returns ``None`` when the model does not exist.
    - ``score`` loads a version and computes its metrics (unprefixed names) on a dataset version, where the data is.
    - ``delete_version`` refuses the default version with ``Conflict``, and an aliased one unless
      ``drop_aliases`` (its aliases are then unset first).
    - ``delete_model`` drops a model with all its versions, aliases and tags; an unknown model raises ``NotFound``.
    """

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
    ) -> ModelVersionInfo: ...

    def get_version(self, model_name: str, version: str) -> ModelVersionInfo: ...

    def list_versions(self, model_name: str) -> list[ModelVersionInfo]: ...

    def default_version(self, model_name: str) -> ModelVersionInfo | None: ...

    def promote(self, model_name: str, version: str) -> None: ...

    def set_tag(self, model_name: str, key: str, value: str) -> None: ...

    def score(self, model_name: str, version: str, dataset: DatasetRef) -> dict[str, float]: ...

    def delete_version(self, model_name: str, version: str, *, drop_aliases: bool = False) -> None: ...

    def delete_model(self, model_name: str) -> None: ...


@runtime_checkable
class Notifier(Protocol):
    """Send a message through a named notification integration (email or webhook).

    Contract: an unknown or disabled integration raises ``NotFound``/``InvalidConfig`` naming it; a delivery that
    fails after the integration's retries raises ``NotificationFailed``. Secrets never appear in errors.
    """

    def send(self, integration: str, message: Notification) -> None: ...


@runtime_checkable
class TaskRuntime(Protocol):
    """What a running task knows of its graph run (``snowflake.core.task.context.TaskContext`` in Snowflake).

    Contract: ``graph_config`` is the root's config merged with the run's override; ``predecessor_value`` looks
    up a predecessor or any ancestor by its short task name and returns ``None`` when it set no value;
    ``set_return_value`` stores ``str(value)`` (more than 10 kB raises ``InvalidData``); ``scheduled_time`` is
    the original scheduled time of the graph run, identical for every task of the run and its retries;
    ``task_state`` is this run's state of another task by its short name (SUCCEEDED, FAILED, SKIPPED,
    NOT_EXECUTED, …), as ``SYSTEM$TASK_COMPLETION_STATE`` reports it; ``graph_run_id`` is the id of this graph
    run as ``Scheduler.run`` returns it and ``Scheduler.runs`` lists it (Snowflake's RUN_ID, digits), the same for
    every task of the run and of its retries.
    """

    def graph_config(self) -> dict[str, Any]: ...

    def predecessor_value(self, task_name: str) -> str | None: ...

    def set_return_value(self, value: str) -> None: ...

    def scheduled_time(self) -> datetime: ...

    def current_task_name(self) -> str: ...

    def task_state(self, task_name: str) -> str: ...

    def graph_run_id(self) -> str: ...


@runtime_checkable
class Scheduler(Protocol):
    """Deploy and operate task graphs.

    Contract:
    - ``deploy`` replaces a graph of the same name (or-replace) and resumes it only if it has a schedule.
    - ``run`` starts a graph run now and returns its run id; a graph that is not deployed raises ``NotFound``.
      ``config`` is merged over the deployed config for that run only (``EXECUTE TASK … USING CONFIG``; the
      deployed config is unchanged). ``retry_last`` (``EXECUTE TASK … RETRY LAST``) starts the next attempt of
      the last run, same run id, re-running its FAILED and CANCELLED tasks and what follows them; it raises
      ``Conflict`` when the last run is not FAILED or CANCELLED, and ``InvalidConfig`` with a ``config``.
    - ``wait`` follows that run id until it is terminal or raises ``JobTimeout``.
    - ``runs`` lists graph runs newest first, each its latest attempt with its tasks; ``task_history`` lists
      task runs of one run or all runs.
    - ``run_detail`` is the one run with that run id (its latest attempt, with its tasks), looked up by id, not by
      listing runs; a run id that is no run of the graph raises ``NotFound``, one that is not a run id at all
      ``InvalidConfig``.
    - ``deployed`` reports the config, schedule and state a graph was deployed with (``NotFound`` if it is not).
    - ``cancel`` cancels the graph's ongoing executions (``SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS``): running
      tasks end CANCELLED, the finalizer still runs, no automatic retry follows. It returns at once with the run
      ids it cancelled (``[]`` when nothing was running; ``wait`` follows them); a graph that is not deployed
      raises ``NotFound``.
    """

    def deploy(self, graph: GraphSpec) -> None: ...

    def run(
        self, graph_name: str, *, config: Mapping[str, Any] | None = None, retry_last: bool = False
    ) -> str: ...

    def wait(self, graph_name: str, run_id: str, timeout: float | None = None) -> GraphRun: ...

    def runs(self, graph_name: str, limit: int = 20) -> list[GraphRun]: ...

    def run_detail(self, graph_name: str, run_id: str) -> GraphRun: ...

    def task_history(self, graph_name: str, run_id: str | None = None) -> list[TaskRun]: ...

    def deployed(self, graph_name: str) -> DeployedGraph: ...

    def suspend(self, graph_name: str) -> None: ...

    def resume(self, graph_name: str) -> None: ...

    def drop(self, graph_name: str) -> None: ...

    def cancel(self, graph_name: str) -> list[str]: ...
