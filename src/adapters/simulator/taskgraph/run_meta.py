"""What every attempt of one run group shares, and what a new attempt inherits from the one before.

A run group is one graph run with its attempts (the first, automatic retries, RETRY LAST). Its identity, config
and last-success lookup are fixed when it is launched; each new attempt carries the tasks that SUCCEEDED or
were SKIPPED (with their return values) and re-runs the rest (``taskgraph-semantics.md`` §3.6, §3.7).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.simulator.taskgraph.model import GraphDef
from adapters.simulator.taskgraph.store import GraphStore
from domain.errors import InvalidConfig
from domain.graph import GraphRunState, TaskState

CARRIED_STATES = frozenset({TaskState.SUCCEEDED, TaskState.SKIPPED})

Carried = dict[str, tuple[TaskState, str | None]]
"""Short task name → (state, return value) of the tasks a new attempt keeps without running them again."""


@dataclass(frozen=True)
class RunMeta:
    """What stays the same for every attempt of one run group."""

    graph: GraphDef
    graph_version: int
    root_uuid: str
    run_id: int
    group_id: str
    scheduled_time: datetime
    config: dict[str, Any]
    last_successful: tuple[datetime, str] | None  # scheduled time and group id of the last SUCCEEDED run


def carried_tasks(task_states: Mapping[str, TaskState], values: Mapping[str, str | None]) -> Carried:
    """The tasks the next attempt keeps: SUCCEEDED (with its return value) and SKIPPED ones."""
    return {n: (s, values.get(n)) for n, s in task_states.items() if s in CARRIED_STATES}


def last_success(store: GraphStore, graph_name: str) -> tuple[datetime, str] | None:
    """``LAST_SUCCESSFUL_TASK_GRAPH_*`` of ``SYSTEM$TASK_RUNTIME_INFO``: the newest SUCCEEDED attempt."""
    last = store.runs(graph_name, states=[GraphRunState.SUCCEEDED], limit=1)
    return (last[0].scheduled_time, last[0].graph_run_group_id) if last else None


def merge_config(base: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """``EXECUTE TASK … USING CONFIG``: the override deep-merged over the root's config."""
    merged = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = value
    try:
        json.dumps(merged)  # refuse what Snowflake's JSON CONFIG could not hold, before the run starts
    except (TypeError, ValueError) as exc:
        raise InvalidConfig(f"run config {override!r} is not JSON: {exc}") from exc
    return merged
