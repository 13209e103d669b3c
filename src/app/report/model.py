"""The report's read model, built only from the ports (``Scheduler``, ``ModelRegistry``, ``JobRunner``), so it
reads the same history and registry on both backends as ``runs`` and ``models`` do.

What links the pieces: a run's model version is its scheduled time (``model_version_for``), which names the
model version it logged; the training task's return value names the ML Job whose logs are shown; a branch
task's return value is the successor it chose.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.monitor import LiveStates
from app.render import _duration, in_run_order
from app.report.layout import Layout, layered_layout
from app.report.svg import graph_svg
from domain.errors import DomainError
from domain.gating import GateDecision
from domain.graph import GraphRun, GraphSpec, TaskRun
from domain.names import model_version_for
from domain.pipeline import SEND_ALERT, failed_training_job
from domain.ports import JobRunner, ModelRegistry, Scheduler
from domain.refs import JobRef, ModelVersionInfo

# Every state a cell of the grid can show, in the legend's order.
STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "NOT_EXECUTED", "CANCELLED", "EXECUTING")
LOG_TAIL_CHARS = 64_000  # per job instance: the end of a log is where a failure is; the page stays small
SOURCE_RUN_LOOKBACK = 100  # runs searched for the run that logged a model version


@dataclass(frozen=True)
class JobLog:
    instance: int
    text: str
    truncated: bool


@dataclass(frozen=True)
class TaskView:
    name: str
    state: str
    attempt: int
    started: datetime | None
    duration_seconds: float | None
    return_value: str | None  # pretty-printed when it is JSON
    error: str | None
    job_id: str | None
    job_logs: tuple[JobLog, ...]
    traceback: str | None = None  # TaskRun.error_traceback
    log: str | None = None  # what the body logged and printed (TaskRun.log)


@dataclass(frozen=True)
class RunView:
    run: GraphRun
    model_version: str
    duration_seconds: float | None
    tasks: tuple[TaskView, ...]
    chosen: Mapping[str, str]  # branch task -> the successor it returned
    gate: GateDecision | None  # the decision stored with the version it logged
    gate_note: str | None  # otherwise what the alert task reported
    svg: str

    def task(self, name: str) -> TaskView | None:
        return next((t for t in self.tasks if t.name.upper() == name.upper()), None)


@dataclass(frozen=True)
class ModelView:
    info: ModelVersionInfo
    source_run_id: str | None
    gate: GateDecision | None


@dataclass(frozen=True)
class Report:
    graph_name: str
    backend: str
    location: str
    generated_at: datetime
    task_names: tuple[str, ...]  # the grid's rows: run order, finalizer last
    runs: tuple[RunView, ...]
    model_name: str
    models: tuple[ModelView, ...]
    states: tuple[str, ...] = STATES

    @property
    def metric_names(self) -> list[str]:
        """Every metric any version has: the models table shows them all."""
        return sorted({name for m in self.models for name in m.info.metrics})


def collect_report(
    *,
    graph: GraphSpec,
    scheduler: Scheduler,
    registry: ModelRegistry,
    jobs: JobRunner,
    model_name: str,
    runs: int,
    instances: int,
    backend: str,
    location: str,
    now: Callable[[], datetime],
    live: LiveStates | None = None,
) -> Report:
    history = scheduler.runs(graph.name, limit=max(runs, SOURCE_RUN_LOOKBACK))
    versions = sorted(registry.list_versions(model_name), key=lambda v: v.created_on, reverse=True)
    by_version = {v.version.upper(): v for v in versions}
    run_of_version = {model_version_for(r.scheduled_time).upper(): r.run_id for r in reversed(history)}
    layout = layered_layout(graph)
    views = tuple(_run_view(graph, run, layout, by_version, jobs, instances, live) for run in history[:runs])
    return Report(
        graph_name=graph.name,
        backend=backend,
        location=location,
        generated_at=now(),
        task_names=tuple(sorted(graph.topological_order(), key=lambda n: graph.task(n).is_finalizer)),
        runs=views,
        model_name=versions[0].model_name if versions else model_name,
        models=tuple(
            ModelView(v, _source_run(v, run_of_version), _stored_gate(v.evidence)) for v in versions
        ),
    )


def _run_view(
    graph: GraphSpec,
    run: GraphRun,
    layout: Layout,
    by_version: Mapping[str, ModelVersionInfo],
    jobs: JobRunner,
    instances: int,
    live: LiveStates | None,
) -> RunView:
    tasks = [_task_view(t, jobs, instances) for t in in_run_order(run.tasks)]
    seen = {t.name.upper() for t in tasks}
    for name, state in ((live(graph.name, run.run_id) or {}) if live else {}).items():
        if name.upper() not in seen:  # still executing: not in the history yet
            tasks.append(TaskView(name.lower(), state, 1, None, None, None, None, None, ()))
    branches = {t.name.upper() for t in graph.tasks if t.is_branch}
    chosen = {t.name: t.return_value for t in tasks if t.name.upper() in branches and t.return_value}
    version = model_version_for(run.scheduled_time)
    logged = by_version.get(version.upper())
    alert = next((t for t in tasks if t.name == SEND_ALERT and t.state == "SUCCEEDED"), None)
    alert_value = None if alert is None else _decoded(alert.return_value)
    gate: GateDecision | None = None
    if logged is not None:
        gate = _stored_gate(logged.evidence)
    elif isinstance(alert_value, dict):  # an alert that returns the decision as {"gate": …}
        gate = _stored_gate(alert_value)
    return RunView(
        run=run,
        model_version=version,
        duration_seconds=_duration(run.query_start_time, run.completed_time),
        tasks=tuple(tasks),
        chosen=chosen,
        gate=gate,
        gate_note=None if gate is not None or alert is None else alert.return_value,
        svg=graph_svg(
            layout,
            {t.name: t.state for t in tasks},
            chosen,
            title=f"{graph.name} run {run.run_id}: {run.state}",
        ),
    )


def _task_view(task: TaskRun, jobs: JobRunner, instances: int) -> TaskView:
    job_id = _job_id(task.return_value) or failed_training_job(task.error_message)
    return TaskView(
        name=task.short_name.lower(),
        state=str(task.state),
        attempt=task.attempt_number,
        started=task.query_start_time,
        duration_seconds=_duration(task.query_start_time, task.completed_time),
        return_value=_pretty(task.return_value),
        error=task.error_message,
        job_id=job_id,
        job_logs=() if job_id is None else _job_logs(jobs, job_id, instances),
        traceback=task.error_traceback,
        log=task.log,
    )


def _job_logs(jobs: JobRunner, job_id: str, instances: int) -> tuple[JobLog, ...]:
    logs: list[JobLog] = []
    for instance in range(instances):
        try:
            text = jobs.logs(JobRef(job_id), instance)
        except DomainError as exc:  # a job cleaned up since, an instance that never started: say so
            text = f"(log unavailable: {exc})"
        logs.append(JobLog(instance, text[-LOG_TAIL_CHARS:], len(text) > LOG_TAIL_CHARS))
    return tuple(logs)


def _decoded(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _job_id(return_value: str | None) -> str | None:
    data = _decoded(return_value)
    job_id = data.get("job_id") if isinstance(data, dict) else None
    return job_id if isinstance(job_id, str) else None


def _pretty(value: str | None) -> str | None:
    data = _decoded(value)
    return value if data is None or isinstance(data, str) else json.dumps(data, indent=2, sort_keys=True)


def _source_run(version: ModelVersionInfo, run_of_version: Mapping[str, str]) -> str | None:
    """The graph run stored with the version where the registry has it, else the run its name was made from."""
    stored = version.evidence.get("graph_run_id")
    return str(stored) if stored is not None else run_of_version.get(version.version.upper())


def _stored_gate(evidence: Mapping[str, Any]) -> GateDecision | None:
    """``log_version`` stores ``{"gate": decision.to_json()}``; Snowflake may hand the inner JSON back parsed."""
    gate = evidence.get("gate")
    if gate is None:
        return None
    try:
        return GateDecision.from_json(gate if isinstance(gate, str) else json.dumps(gate))
    except (ValueError, KeyError, TypeError):
        return None  # evidence from an older format: shown as absent rather than failing the whole report


def grid_cell(run: RunView, task: str) -> str:
    """The state a run's task shows in the grid ('' when the run has no such task)."""
    view = run.task(task)
    return "" if view is None else view.state
