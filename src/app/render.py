"""Plain-text, JSON, Mermaid and DOT renderings of runs, models and the graph, for the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from domain import pipeline as p
from domain.gating import GateDecision
from domain.graph import DeployedGraph, GraphRun, GraphSpec, TaskRun
from domain.readiness import Check, ready
from domain.refs import ModelVersionInfo


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def in_run_order(tasks: Sequence[TaskRun]) -> list[TaskRun]:
    """Tasks in the order they started; those that never ran come last, by name."""
    return sorted(
        tasks, key=lambda t: (t.query_start_time is None, t.query_start_time or datetime.min, t.name)
    )


def decoded(value: str | None) -> Any:
    """A return value as the JSON it holds (tasks return JSON), or the text itself when it is not JSON."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def task_to_dict(task: TaskRun, *, details: bool = False) -> dict[str, Any]:
    """One task run; ``details`` adds what explains a failure: its traceback and its captured log."""
    row = {
        "name": task.short_name.lower(),
        "qualified_name": task.name,
        "state": str(task.state),
        "return_value": decoded(task.return_value),
        "error_code": task.error_code,
        "error_message": task.error_message,
        "attempt_number": task.attempt_number,
        "query_start_time": _iso(task.query_start_time),
        "completed_time": _iso(task.completed_time),
        "duration_seconds": _duration(task.query_start_time, task.completed_time),
    }
    if details:
        row |= {"error_traceback": task.error_traceback, "log": task.log}
    return row


def gate_decision(run: GraphRun) -> GateDecision | None:
    """The gate's decision of a pipeline run, as the branch it chose returned it (None before it ran)."""
    for task in run.tasks:
        if task.short_name.lower() in (p.PROMOTE_MODEL, p.SEND_ALERT):
            value = decoded(task.return_value)
            if isinstance(value, dict) and isinstance(value.get("gate"), dict):
                return GateDecision.from_dict(value["gate"])
    return None


def run_to_dict(run: GraphRun, *, details: bool = False) -> dict[str, Any]:
    decision = gate_decision(run)
    return {
        "run_id": run.run_id,
        "graph": run.graph_name,
        "state": str(run.state),
        "scheduled_time": _iso(run.scheduled_time),
        "scheduled_from": run.scheduled_from,
        "attempt_number": run.attempt_number,
        "query_start_time": _iso(run.query_start_time),
        "completed_time": _iso(run.completed_time),
        "duration_seconds": _duration(run.query_start_time, run.completed_time),
        "first_error_task_name": run.first_error_task_name,
        "first_error_message": run.first_error_message,
        "gate": None if decision is None else decision.to_dict(),
        "tasks": [task_to_dict(t, details=details) for t in in_run_order(run.tasks)],
    }


def runs_json(runs: Sequence[GraphRun]) -> str:
    return json.dumps([run_to_dict(r) for r in runs], indent=2)


def _clip(text: str | None, width: int) -> str:
    text = "" if text is None else " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}s"


_TASK_HEADER = f"  {'task':<22} {'state':<13} {'duration':>9}  return value / error"


def runs_table(runs: Sequence[GraphRun]) -> str:
    if not runs:
        return "No graph runs yet. Start one with: python -m app deploy --run"
    lines: list[str] = [
        f"{'graph run id':<16} {'state':<10} {'scheduled (UTC)':<19}  {'duration':>9}  {'attempt':>7}  origin"
    ]
    for run in runs:
        lines.append(
            f"{run.run_id:<16} {run.state!s:<10} {run.scheduled_time:%Y-%m-%d %H:%M:%S}  "
            f"{_seconds(_duration(run.query_start_time, run.completed_time)):>9}  {run.attempt_number:>7}  "
            f"{run.scheduled_from}"
        )
        if run.first_error_task_name:
            lines.append(f"  error in {run.first_error_task_name}: {_clip(run.first_error_message, 90)}")
        lines.append(_TASK_HEADER)
        for t in in_run_order(run.tasks):
            d = _duration(t.query_start_time, t.completed_time)
            lines.append(
                f"  {t.short_name.lower():<22} {t.state!s:<13} {_seconds(d):>9}  "
                f"{_clip(t.error_message or t.return_value, 70)}"
            )
    return "\n".join(lines)


def _indented(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.rstrip("\n").splitlines())


def run_detail(run: GraphRun) -> str:
    """``runs show``: the run, the gate's decision, then each task with its value, error and traceback in full."""
    duration = _seconds(_duration(run.query_start_time, run.completed_time)) or "-"
    lines = [
        f"graph run {run.run_id} of {run.graph_name}: {run.state}, scheduled "
        f"{run.scheduled_time:%Y-%m-%d %H:%M:%S} UTC, attempt {run.attempt_number} ({run.scheduled_from}), "
        f"duration {duration}"
    ]
    if run.first_error_task_name:
        lines.append(f"first error in {run.first_error_task_name}: {run.first_error_message}")
    decision = gate_decision(run)
    if decision is not None:
        lines.append("gate: " + decision.explained())
    for t in in_run_order(run.tasks):
        d = _duration(t.query_start_time, t.completed_time)
        lines.append(
            f"  {t.short_name.lower()}: {t.state}, attempt {t.attempt_number}, duration {_seconds(d) or '-'}"
        )
        value = decoded(t.return_value)
        if value is not None:
            shown = json.dumps(value, indent=2, sort_keys=True) if not isinstance(value, str) else value
            lines += ["    return value:", _indented(shown)]
        if t.error_message:
            code = f" (code {t.error_code})" if t.error_code is not None else ""
            lines += [f"    error{code}:", _indented(t.error_message)]
        if t.error_traceback:
            lines += ["    traceback:", _indented(t.error_traceback)]
    return "\n".join(lines)


def task_log(task: TaskRun) -> str:
    """``logs TASK``: what one task run logged and printed, then its error and traceback."""
    lines = [f"task {task.name}: {task.state}, attempt {task.attempt_number}"]
    lines += ["  log:", _indented(task.log) if task.log else "      (nothing logged or printed)"]
    if task.error_message:
        lines += ["  error:", _indented(task.error_message)]
    if task.error_traceback:
        lines += ["  traceback:", _indented(task.error_traceback)]
    return "\n".join(lines)


def _metric(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def models_dict(model: str, versions: Sequence[ModelVersionInfo]) -> dict[str, Any]:
    default = next((v.version for v in versions if v.is_default), None)
    return {
        "model": model,
        "default_version": default,
        "versions": [
            {
                "name": v.version,
                "created_on": _iso(v.created_on),
                "is_default": v.is_default,
                "aliases": sorted(v.aliases),
                "metrics": {k: _metric(x) for k, x in sorted(v.metrics.items())},
                "dataset": None if v.dataset is None else f"{v.dataset.name}/{v.dataset.version}",
                "comment": v.comment,
                "source_run": v.evidence.get("graph_run_id"),
                "evidence": dict(v.evidence),
            }
            for v in versions
        ],
    }


def models_table(model: str, versions: Sequence[ModelVersionInfo], metric: str) -> str:
    if not versions:
        return f"Model {model} has no versions yet."
    lines = [f"model {model}", f"  {'version':<20} {'created_on':<20} {'default':<8} {metric:<14} aliases"]
    for v in versions:
        value = v.metrics.get(metric)
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        lines.append(
            f"  {v.version:<20} {v.created_on:%Y-%m-%d %H:%M:%S}  {'yes' if v.is_default else '':<8} "
            f"{shown:<14} {', '.join(sorted(v.aliases))}"
        )
        every = "  ".join(
            f"{k}={x:.4f}" if isinstance(x, float) else f"{k}={x}" for k, x in sorted(v.metrics.items())
        )
        lines.append(f"    metrics: {every or '-'}")
        lines.append(f"    source run: {v.evidence.get('graph_run_id') or '-'}")
    return "\n".join(lines)


def _states(run: GraphRun | None) -> Mapping[str, str]:
    return {} if run is None else {t.short_name.upper(): str(t.state) for t in run.tasks}


def _status(deployed: DeployedGraph | None, last: GraphRun | None) -> str:
    status = (
        "not deployed"
        if deployed is None
        else f"deployed, {deployed.state}, schedule {deployed.schedule or 'none'}"
    )
    return status + (f"; last run {last.run_id}: {last.state}" if last else "; never run")


def graph_text(graph: GraphSpec, last: GraphRun | None, deployed: DeployedGraph | None = None) -> str:
    states = _states(last)
    lines = [
        f"graph {graph.name}  ({_status(deployed, last)})",
        f"  config: {json.dumps(dict(graph.config), sort_keys=True)}",
    ]
    for name in sorted(graph.topological_order(), key=lambda n: graph.task(n).is_finalizer):
        t = graph.task(name)
        when = (
            "finally (finalizer)" if t.is_finalizer else "after " + (", ".join(t.predecessors) or graph.name)
        )
        kind = "branch" if t.is_branch else str(t.kind)
        state = states.get(name.upper(), "")
        lines.append(f"  {name:<22} {when:<28} {kind:<8} {state}")
    return "\n".join(lines)


_MERMAID_CLASS = {"SUCCEEDED": "ok", "FAILED": "failed", "SKIPPED": "skipped", "NOT_EXECUTED": "skipped"}


def graph_mermaid(graph: GraphSpec, last: GraphRun | None, deployed: DeployedGraph | None = None) -> str:
    states = _states(last)
    lines = ["flowchart LR", f"  %% {_status(deployed, last)}", f"  {graph.name}([{graph.name}])"]
    for t in graph.tasks:
        label = t.name + (f"<br/>{states[t.name.upper()]}" if t.name.upper() in states else "")
        shape = f"{{{{{label}}}}}" if t.is_branch else f"[{label}]"
        lines.append(f"  {t.name}{shape}")
    for a, b in graph.edges():
        label = f"|{b}|" if a in {t.name for t in graph.tasks if t.is_branch} else ""
        lines.append(f"  {a} -->{label} {b}")
    fin = graph.finalizer
    if fin is not None:
        lines.append(f"  {graph.name} -. finally .-> {fin.name}")
    lines += [
        "  classDef ok fill:#d4f7d4;",
        "  classDef failed fill:#f7d4d4;",
        "  classDef skipped fill:#eeeeee,stroke-dasharray: 3 3;",
    ]
    for name, state in states.items():
        task = next((t.name for t in graph.tasks if t.name.upper() == name), None)
        if task and state in _MERMAID_CLASS:
            lines.append(f"  class {task} {_MERMAID_CLASS[state]};")
    return "\n".join(lines)


_DOT_COLOR = {"SUCCEEDED": "palegreen", "FAILED": "salmon", "SKIPPED": "lightgrey", "NOT_EXECUTED": "white"}


def graph_dot(graph: GraphSpec, last: GraphRun | None, deployed: DeployedGraph | None = None) -> str:
    states = _states(last)
    lines = [
        f'digraph "{graph.name}" {{',
        f"  // {_status(deployed, last)}",
        "  rankdir=LR;",
        f'  "{graph.name}" [shape=oval];',
    ]
    for t in graph.tasks:
        state = states.get(t.name.upper())
        attrs = [f'label="{t.name}' + (f"\\n{state}" if state else "") + '"']
        attrs.append("shape=diamond" if t.is_branch else "shape=box")
        if state in _DOT_COLOR:
            attrs.append(f'style=filled fillcolor="{_DOT_COLOR[state]}"')
        lines.append(f'  "{t.name}" [{" ".join(attrs)}];')
    for a, b in graph.edges():
        lines.append(f'  "{a}" -> "{b}";')
    if graph.finalizer is not None:
        lines.append(f'  "{graph.name}" -> "{graph.finalizer.name}" [style=dashed label="finally"];')
    lines.append("}")
    return "\n".join(lines)


def readiness_text(checks: Sequence[Check], backend: str) -> str:
    """One line per check; a failed one is followed by the statement or command that fixes it."""
    lines = [f"doctor ({backend}):"]
    for c in checks:
        lines.append(f"  {'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
        if not c.ok:
            lines.append(f"        fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(
        "Ready: a deploy would work."
        if ready(checks)
        else f"Not ready: {failed} of {len(checks)} check(s) failed; run the fixes above, then doctor again."
    )
    return "\n".join(lines)
