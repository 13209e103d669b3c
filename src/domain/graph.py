"""The task-graph spec: tasks, edges, the branch, the finalizer and the graph config, validated.

It is backend-neutral: the simulator's engine runs it, and the Snowflake adapter turns it into the
``snowflake.core.task.dagv1.DAG`` it deploys. The rules checked here are Snowflake's (CREATE TASK limits and the
dagv1 constraints), so a graph that passes here is one Snowflake accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import InvalidConfig, InvalidName
from domain.schedule import Schedule

MAX_TASKS = 1000  # per graph, root included
MAX_PREDECESSORS = 100
MAX_CHILDREN = 100
MAX_RETURN_VALUE_BYTES = 10 * 1024
MAX_TIMEOUT_MS = 604_800_000  # USER_TASK_TIMEOUT_MS: at most 7 days
_TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class TaskKind(StrEnum):
    PYTHON = "python"  # a pipeline stage, resolved by name in the composition root
    SQL = "sql"  # SQL text run by the backend
    ML_JOB = "ml_job"  # a stage that runs as an ML Job (synchronously inside the task)


class TaskState(StrEnum):
    """Task-run states, as TASK_HISTORY and SYSTEM$TASK_COMPLETION_STATE report them."""

    SCHEDULED = "SCHEDULED"
    EXECUTING = "EXECUTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"
    NOT_EXECUTED = "NOT_EXECUTED"
    FAILED_AND_AUTO_SUSPENDED = "FAILED_AND_AUTO_SUSPENDED"

    @property
    def is_terminal(self) -> bool:
        return self not in {TaskState.SCHEDULED, TaskState.EXECUTING}


class GraphRunState(StrEnum):
    SCHEDULED = "SCHEDULED"
    EXECUTING = "EXECUTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in {GraphRunState.SUCCEEDED, GraphRunState.FAILED, GraphRunState.CANCELLED}


class ScheduledFrom(StrEnum):
    """What started a graph run: its ``SCHEDULED_FROM``, exactly as Snowflake reports it."""

    SCHEDULE = "SCHEDULE"
    EXECUTE_TASK = "EXECUTE TASK"
    MANUAL_RETRY = "MANUAL RETRY"  # EXECUTE TASK … RETRY LAST
    AUTOMATIC_RETRY = "AUTOMATIC RETRY"  # TASK_AUTO_RETRY_ATTEMPTS


class OverlapPolicy(StrEnum):
    NO_OVERLAP = "NO_OVERLAP"
    ALLOW_CHILD_OVERLAP = "ALLOW_CHILD_OVERLAP"
    ALLOW_ALL_OVERLAP = "ALLOW_ALL_OVERLAP"


@dataclass(frozen=True)
class TaskSpec:
    """One task. ``definition`` is a stage name for PYTHON/ML_JOB tasks and SQL text for SQL tasks."""

    name: str
    kind: TaskKind
    definition: str
    predecessors: tuple[str, ...] = ()
    is_branch: bool = False
    is_finalizer: bool = False
    condition: str | None = None
    timeout_ms: int | None = None
    comment: str = ""


@dataclass(frozen=True)
class GraphSpec:
    """A whole task graph; ``tasks`` excludes the root, which every backend creates from the graph itself."""

    name: str
    tasks: tuple[TaskSpec, ...]
    config: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    schedule: Schedule | None = None
    warehouse: str | None = None
    comment: str = ""
    task_auto_retry_attempts: int = 0
    user_task_timeout_ms: int | None = None
    suspend_task_after_num_failures: int = 10
    overlap_policy: OverlapPolicy = OverlapPolicy.NO_OVERLAP

    def __post_init__(self) -> None:
        validate_graph(self)

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def finalizer(self) -> TaskSpec | None:
        return next((t for t in self.tasks if t.is_finalizer), None)

    def successors(self, name: str) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks if name in t.predecessors)

    def edges(self) -> list[tuple[str, str]]:
        """(predecessor, successor) pairs; top-level tasks hang off the root, named after the graph."""
        out: list[tuple[str, str]] = []
        for t in self.tasks:
            if t.is_finalizer:
                continue
            for p in t.predecessors or (self.name,):
                out.append((p, t.name))
        return sorted(out)

    def topological_order(self) -> list[str]:
        return topological_order({t.name: t.predecessors for t in self.tasks})

    def with_config(self, **overrides: str | int | float | bool) -> GraphSpec:
        from dataclasses import replace

        return replace(self, config={**self.config, **overrides})


def validate_name(name: str, what: str = "task") -> str:
    if not isinstance(name, str) or not _TASK_NAME.match(name):
        raise InvalidName(
            f"invalid {what} name {name!r}: use letters, digits, '_' and '$', starting with a letter or '_'"
        )
    if len(name) > 255:
        raise InvalidName(f"invalid {what} name {name[:40]!r}…: at most 255 characters")
    return name


def validate_graph(graph: GraphSpec) -> None:
    validate_name(graph.name, "graph")
    if "$" in graph.name:
        raise InvalidName(f"invalid graph name {graph.name!r}: '$' separates the graph from its tasks")
    if len(graph.tasks) + 1 > MAX_TASKS:
        raise InvalidConfig(
            f"graph {graph.name} has {len(graph.tasks) + 1} tasks; Snowflake allows {MAX_TASKS}"
        )
    seen: dict[str, str] = {graph.name.upper(): graph.name}
    for t in graph.tasks:
        validate_name(t.name)
        key = t.name.upper()
        if key in seen:
            raise InvalidConfig(
                f"duplicate task name {t.name!r} (names are case-insensitive in Snowflake; clashes with "
                f"{seen[key]!r})"
            )
        seen[key] = t.name
    names = {t.name for t in graph.tasks}
    finalizers = [t.name for t in graph.tasks if t.is_finalizer]
    if len(finalizers) > 1:
        raise InvalidConfig(f"graph {graph.name} has {len(finalizers)} finalizers {finalizers}; at most one")
    for t in graph.tasks:
        if t.is_finalizer and t.predecessors:
            raise InvalidConfig(f"finalizer {t.name!r} cannot have predecessors {list(t.predecessors)}")
        if len(set(t.predecessors)) != len(t.predecessors):
            raise InvalidConfig(f"task {t.name!r} lists a predecessor twice: {list(t.predecessors)}")
        for p in t.predecessors:
            if p not in names:
                raise InvalidConfig(f"task {t.name!r} follows unknown task {p!r}; known: {sorted(names)}")
            if p in finalizers:
                raise InvalidConfig(f"finalizer {p!r} cannot be a predecessor (of {t.name!r})")
            if p == t.name:
                raise InvalidConfig(f"task {t.name!r} cannot follow itself")
        check_timeout(t.timeout_ms, t.name)
    finalizer = graph.finalizer
    check_fan(
        graph.name, {t.name: t.predecessors for t in graph.tasks}, finalizer.name if finalizer else None
    )
    for t in graph.tasks:
        if t.is_branch and not graph.successors(t.name):
            raise InvalidConfig(f"branch {t.name!r} has no successors to choose from")
    graph.topological_order()
    check_retry_attempts(graph.task_auto_retry_attempts)
    check_suspend_after(graph.suspend_task_after_num_failures)
    check_timeout(graph.user_task_timeout_ms, graph.name)
    check_config_values(graph.config)


# --- the graph rules, shared by the GraphSpec above and the simulator's compiled dagv1 DAGs ------------------


def check_fan(root: str, predecessors: Mapping[str, Sequence[str]], finalizer: str | None) -> None:
    """Snowflake's limits: a single task has at most 100 parent tasks and at most 100 child tasks.

    The dummy root counts as a parent: every task without predecessors (but the finalizer, linked by FINALIZE)
    is its child, so a graph has at most 100 top-level tasks.
    """
    children: dict[str, int] = {root: 0}
    for task, parents in predecessors.items():
        if len(parents) > MAX_PREDECESSORS:
            raise InvalidConfig(
                f"task {task} has {len(parents)} predecessors; Snowflake allows a task at most "
                f"{MAX_PREDECESSORS} parent tasks"
            )
        if task != finalizer:
            for parent in parents or (root,):
                children[parent] = children.get(parent, 0) + 1
    for parent, count in children.items():
        if count > MAX_CHILDREN:
            what = "the root of task graph" if parent == root else "task"
            raise InvalidConfig(
                f"{what} {parent} has {count} child tasks; Snowflake allows a task at most {MAX_CHILDREN} "
                "child tasks"
            )


def topological_order(predecessors: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm: predecessors first, stable in the mapping's order; a cycle raises ``InvalidConfig``
    (with dagv1's wording). Every predecessor must itself be a key."""
    remaining = {name: len(parents) for name, parents in predecessors.items()}
    successors: dict[str, list[str]] = {name: [] for name in predecessors}
    for name, parents in predecessors.items():
        for parent in parents:
            successors[parent].append(name)
    order = [name for name, count in remaining.items() if count == 0]
    i = 0
    while i < len(order):
        for successor in successors[order[i]]:
            remaining[successor] -= 1
            if remaining[successor] == 0:
                order.append(successor)
        i += 1
    if len(order) != len(remaining):
        stuck = sorted(name for name, count in remaining.items() if count > 0)
        raise InvalidConfig(f"There is a cycle in the task graph. (tasks on or after the cycle: {stuck})")
    return order


def check_retry_attempts(attempts: int) -> None:
    if not 0 <= attempts <= 30:
        raise InvalidConfig(f"task_auto_retry_attempts={attempts}: must be 0..30")


def check_suspend_after(failures: int) -> None:
    if failures < 0:
        raise InvalidConfig(f"suspend_task_after_num_failures={failures}: must be >= 0 (0 disables)")


def check_timeout(ms: int | None, owner: str) -> None:
    if ms is not None and not 0 <= ms <= MAX_TIMEOUT_MS:
        raise InvalidConfig(f"user_task_timeout_ms={ms} on {owner}: must be 0..{MAX_TIMEOUT_MS}")


def check_config_values(config: Mapping[str, object]) -> None:
    """A graph config holds only what Snowflake's JSON CONFIG and dagv1 accept: str, int, float, bool."""
    for key, value in config.items():
        if not isinstance(value, str | int | float | bool):
            raise InvalidConfig(
                f"config key {key!r} has a {type(value).__name__} value; only str, int, float, bool"
            )


@dataclass(frozen=True)
class DeployedGraph:
    """What a backend reports of a deployed graph: its config, schedule (as the backend states it) and state."""

    name: str
    config: Mapping[str, object]
    schedule: str | None
    state: str  # "started" (scheduled runs happen) or "suspended"


@dataclass(frozen=True)
class TaskRun:
    """One row of task history (``name`` is Snowflake's ``<GRAPH>$<TASK>`` form).

    ``error_traceback`` and ``log`` are what the backend kept of the task's failure and output (the simulator:
    the traceback and what the body logged and printed, bounded; Snowflake: ``None``, as TASK_HISTORY has no
    such columns and the error message carries the procedure's traceback).
    """

    name: str
    state: TaskState
    return_value: str | None = None
    error_message: str | None = None
    attempt_number: int = 1
    query_start_time: datetime | None = None
    completed_time: datetime | None = None
    error_code: int | None = None
    error_traceback: str | None = None
    log: str | None = None

    @property
    def short_name(self) -> str:
        return self.name.split("$", 1)[-1]


@dataclass(frozen=True)
class GraphRun:
    """One graph run, shaped like a COMPLETE_TASK_GRAPHS row, with its tasks."""

    graph_name: str
    run_id: str  # Snowflake's RUN_ID (digits); the model version the run trains is RunConfig.model_version
    state: GraphRunState
    scheduled_time: datetime
    attempt_number: int = 1
    scheduled_from: str = (
        ScheduledFrom.EXECUTE_TASK
    )  # str: Snowflake may report origins this code never starts
    query_start_time: datetime | None = None
    completed_time: datetime | None = None
    first_error_task_name: str | None = None
    first_error_message: str | None = None
    tasks: tuple[TaskRun, ...] = ()
