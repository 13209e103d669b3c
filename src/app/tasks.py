"""The task bodies of the pipeline graph: each reads its run's config and predecessors' values through the
TaskRuntime, calls one domain stage over the ports, and returns the small value its successors read.

Values flow as in the guide: prepare_data → the dataset references (JSON); train_model → the model file and
metrics (JSON); check_model_quality → the exact name of the successor to run (Snowflake compares it with the successor's
name); promote_model → ``{model_name, model_version, gate}`` and send_alert → ``{gate}``, the gate's decision
with its evidence (JSON); cleanup → what it deleted, and one notice when anything in the run failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from domain import pipeline as p
from domain.config import RunConfig
from domain.graph import TaskKind, TaskSpec
from domain.ports import TaskRuntime
from domain.refs import DatasetSplits, TrainingOutcome

# The stages whose version, alert or mail name the graph run; only they read its id (a TASK_HISTORY query on
# Snowflake).
_NAMES_THE_RUN = frozenset({p.PROMOTE_MODEL, p.SEND_ALERT, p.CLEANUP})


def run_stage(stage: str, runtime: TaskRuntime, ports: p.Ports) -> str | None:
    run = RunConfig.from_graph(
        runtime.graph_config(),
        runtime.scheduled_time(),
        graph_run_id=runtime.graph_run_id() if stage in _NAMES_THE_RUN else None,
    )
    if stage != p.CLEANUP:
        return _STAGES[stage](runtime, ports, run)
    # The finalizer sees the whole run: it cleans up, then sends one notice if any task failed — raised an
    # error, or timed out (a timed-out task cannot report itself) — was cancelled (Ctrl-C, --timeout, `cancel`),
    # or if the cleanup itself fails.
    states = {task: runtime.task_state(task) for task in p.STAGES if task != p.CLEANUP}
    failures: dict[str, str | None] = {task: None for task, state in states.items() if state == "FAILED"}
    failures |= {task: "cancelled" for task, state in states.items() if state == "CANCELLED"}
    try:
        return _cleanup(runtime, ports, run)
    except Exception as exc:
        failures[p.CLEANUP] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if failures:
            p.notify_failure(ports, run, failures)


def _splits(runtime: TaskRuntime) -> DatasetSplits:
    return DatasetSplits.from_json(_required(runtime, p.PREPARE_DATA))


def _outcome(runtime: TaskRuntime) -> TrainingOutcome:
    return TrainingOutcome.from_json(_required(runtime, p.TRAIN_MODEL))


def _required(runtime: TaskRuntime, task: str) -> str:
    value = runtime.predecessor_value(task)
    if value is None:
        raise ValueError(f"task {task} returned no value; it must run (and succeed) before this task")
    return value


def _prepare(runtime: TaskRuntime, ports: p.Ports, run: RunConfig) -> str:
    return p.prepare_data(ports, run).to_json()


def _train(runtime: TaskRuntime, ports: p.Ports, run: RunConfig) -> str:
    return p.train_model(ports, run, _splits(runtime)).to_json()


def _check(runtime: TaskRuntime, ports: p.Ports, run: RunConfig) -> str:
    return p.check_model_quality(ports, run, _splits(runtime), _outcome(runtime)).successor


def _promote(runtime: TaskRuntime, ports: p.Ports, run: RunConfig) -> str:
    version, decision = p.promote_model(ports, run, _splits(runtime), _outcome(runtime))
    return json.dumps(
        {"model_name": version.model_name, "model_version": version.version, "gate": decision.to_dict()},
        sort_keys=True,
        allow_nan=False,
    )


def _alert(runtime: TaskRuntime, ports: p.Ports, run: RunConfig) -> str:
    decision = p.send_alert(ports, run, _splits(runtime), _outcome(runtime))
    return json.dumps({"gate": decision.to_dict()}, sort_keys=True, allow_nan=False)


def _cleanup(runtime: TaskRuntime, ports: p.Ports, run: RunConfig) -> str:
    plan = p.cleanup(ports, run)
    return json.dumps(
        {"deleted_models": list(plan.model_versions), "deleted_datasets": list(plan.dataset_versions)}
    )


_STAGES: dict[str, Callable[[TaskRuntime, p.Ports, RunConfig], str]] = {
    p.PREPARE_DATA: _prepare,
    p.TRAIN_MODEL: _train,
    p.CHECK_MODEL_QUALITY: _check,
    p.PROMOTE_MODEL: _promote,
    p.SEND_ALERT: _alert,
    p.CLEANUP: _cleanup,
}


def definition_for(body: Callable[[str], Callable[[Any], str | None]]) -> Callable[[TaskSpec], Any]:
    """What a task of the pipeline graph runs, on either backend: SQL text as written, or ``body(stage)``
    for a pipeline stage (a closure over this process's ports, or a deployed procedure's function)."""

    def definition(spec: TaskSpec) -> Any:
        if spec.kind is TaskKind.SQL:
            return spec.definition
        if spec.definition not in _STAGES:
            raise KeyError(f"unknown pipeline stage {spec.definition!r}; known: {sorted(_STAGES)}")
        return body(spec.definition)

    return definition


def stage_task(
    stage: str, ports_for: Callable[[Any], p.Ports], runtime_for: Callable[[Any], TaskRuntime]
) -> Callable[[Any], str | None]:
    """A task definition ``f(session)`` for ``stage``, as dagv1 calls it."""
    if stage not in _STAGES:
        raise KeyError(f"unknown pipeline stage {stage!r}; known: {sorted(_STAGES)}")

    def task(session: Any) -> str | None:
        return run_stage(stage, runtime_for(session), ports_for(session))

    task.__name__ = task.__qualname__ = stage
    return task
