"""Plain-text, JSON, Mermaid and DOT renderings of runs, models and the graph, for the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

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


def task_to_dict(task: TaskRun) -> dict[str, Any]:
    return {
        "name": task.short_name.lower(),
        "qualified_name": task.name,
        "state": str(task.state),
        "return_value": task.return_value,
        "error_message": task.error_message,
        "attempt_number": task.attempt_number,
        "query_start_time": _iso(task.query_start_time),
        "completed_time": _iso(task.completed_time),
        "duration_seconds": _duration(task.query_start_time, task.completed_time),
    }


def run_to_dict(run: GraphRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "graph": run.graph_name,
        "state": str(run.state),
        "scheduled_time": _iso(run.scheduled_time),
        "scheduled_from": run.scheduled_from,
        "attempt_number": run.attempt_number,
        "query_start_time": _iso(run.query_start_time),
        "completed_time": _iso(run.completed_time),
        "first_error_task_name": run.first_error_task_name,
        "first_error_message": run.first_error_message,
        "tasks": [task_to_dict(t) for t in in_run_order(run.tasks)],
    }


def runs_json(runs: Sequence[GraphRun]) -> str:
    return json.dumps([run_to_dict(r) for r in runs], indent=2)


def _clip(text: str | None, width: int) -> str:
    text = "" if text is None else " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def runs_table(runs: Sequence[GraphRun]) -> str:
    if not runs:
        return "No graph runs yet. Start one with: python -m app deploy --run"
    lines: list[str] = []
    for run in runs:
        lines.append(
            f"run {run.run_id}  {run.state}  scheduled {run.scheduled_time:%Y-%m-%d %H:%M:%S}  "
            f"attempt {run.attempt_number}  ({run.scheduled_from})"
        )
        for t in in_run_order(run.tasks):
            d = _duration(t.query_start_time, t.completed_time)
            lines.append(
                f"  {t.short_name.lower():<22} {t.state!s:<13} {'' if d is None else f'{d:8.2f}s':>9}  "
                f"{_clip(t.error_message or t.return_value, 70)}"
            )
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
