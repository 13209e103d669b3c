"""The runtime of one task execution: what its session's ``SYSTEM$`` calls and its WHEN condition see.

A scope reads the attempt's task states and return values (owned by the attempt, read-only here) and owns only
its own return value and whether the attempt has abandoned its thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.simulator.taskgraph.model import ROOT, TaskDef
from adapters.simulator.taskgraph.run_meta import RunMeta
from domain.errors import InvalidConfig, InvalidData, NotFound
from domain.graph import MAX_RETURN_VALUE_BYTES, TaskState


class TaskScope:
    """One task (``task=None``: the root) of one attempt."""

    def __init__(
        self,
        meta: RunMeta,
        task: TaskDef | None,
        *,
        states: Mapping[str, TaskState],
        values: Mapping[str, str | None],
        cancel_graph: Callable[[str], list[int]],
    ) -> None:
        self._meta = meta
        self._task = task
        self._states = states
        self._values = values
        self._cancel_graph = cancel_graph
        self.full_name = task.full_name if task else meta.graph.name
        self.run_id = meta.run_id  # the graph run's RUN_ID, which SYSTEM$TASK_RUNTIME_INFO does not offer
        self.value: str | None = None
        self.abandoned = False  # set by the attempt (timeout, cancel): the thread's outcome is ignored
        self.thread_id: int | None = None

    def set_return_value(self, value: str) -> None:
        size = len(value.encode("utf-8"))
        if size > MAX_RETURN_VALUE_BYTES:
            raise InvalidData(
                f"return value of task {self.full_name} is {size} bytes; SYSTEM$SET_RETURN_VALUE accepts at "
                f"most {MAX_RETURN_VALUE_BYTES} bytes (10 kB) of UTF-8 — store bulky results and return a reference"
            )
        self.value = value

    def predecessor_return_value(self, name: str | None) -> str | None:
        graph = self._meta.graph
        parents = [p for p in (self._task.parents if self._task else ()) if p != ROOT]
        if name is None:
            if len(parents) != 1:
                raise InvalidConfig(
                    f"SYSTEM$GET_PREDECESSOR_RETURN_VALUE() without a name needs exactly one predecessor; task "
                    f"{self.full_name} has {sorted(graph.tasks[p].full_name for p in parents) or 'none'}"
                )
            return self._values.get(parents[0])
        short = ROOT if name == graph.name else graph.by_full_name.get(name)
        if short is None:
            raise NotFound(
                f"SYSTEM$GET_PREDECESSOR_RETURN_VALUE({name!r}): no such task in graph {graph.name} (names are "
                f"case-sensitive and stored upper-case); known: {sorted(graph.by_full_name)}"
            )
        if self._task is not None and short not in graph.ancestors(self._task.name):
            raise InvalidConfig(
                f"SYSTEM$GET_PREDECESSOR_RETURN_VALUE({name!r}) in task {self.full_name}: {name} is not a "
                "predecessor or ancestor of this task"
            )
        return self._values.get(short)

    def predecessor_states(self) -> Sequence[str]:
        return [self._states[p] for p in (self._task.parents if self._task else ())]

    def task_completion_state(self, name: str) -> str:
        graph = self._meta.graph
        short = ROOT if name == graph.name else graph.by_full_name.get(name)
        if short is None:
            raise NotFound(f"SYSTEM$TASK_COMPLETION_STATE({name!r}): no such task in graph {graph.name}")
        return self._states.get(short, TaskState.NOT_EXECUTED)

    def graph_config(self) -> dict[str, Any]:
        return self._meta.config

    def cancel_graph(self, name: str) -> list[int]:
        return self._cancel_graph(name)

    def runtime_info(self, prop: str) -> str | None:
        meta = self._meta
        last = meta.last_successful
        info = {
            "CURRENT_ROOT_TASK_NAME": meta.graph.name,
            "CURRENT_ROOT_TASK_UUID": meta.root_uuid,
            "CURRENT_TASK_NAME": self.full_name,
            "CURRENT_TASK_GRAPH_RUN_GROUP_ID": meta.group_id,
            "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": _iso(meta.scheduled_time),
            "LAST_SUCCESSFUL_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": _iso(last[0]) if last else None,
            "LAST_SUCCESSFUL_TASK_GRAPH_RUN_GROUP_ID": last[1] if last else None,
        }
        if prop not in info:
            raise InvalidConfig(f"SYSTEM$TASK_RUNTIME_INFO({prop!r}): valid properties are {sorted(info)}")
        return info[prop]


def _iso(t: datetime) -> str:
    # TIMESTAMP_NTZ text in UTC, so to_timestamp(...) gives the naive UTC time Snowflake returns.
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
