"""A deployed graph as the engine sees it: a dagv1 ``DAG`` compiled into plain, validated task definitions.

Compilation mirrors ``DAGOperation.deploy`` and ``DAGTask._to_low_level_task`` of snowflake-core 1.14.0: the
same definition kinds in the same order (ML Job definition, other ``to_sql()`` objects, ``StoredProcedureCall``,
callables, SQL text), the same ``use_func_return_value`` wrapper, the same names (``<DAG>$<TASK>``, stored
upper-case when unquoted). Unlike Snowflake, which creates the root before it notices a cycle, everything is
checked before anything is stored, so a refused graph leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from adapters.simulator.taskgraph.conditions import Condition
from domain.errors import InvalidConfig, InvalidName
from domain.graph import (
    MAX_TASKS,
    check_config_values,
    check_fan,
    check_retry_attempts,
    check_suspend_after,
    check_timeout,
    topological_order,
)
from domain.schedule import CronSchedule, IntervalSchedule, Schedule

if TYPE_CHECKING:
    from snowflake.core.task import Cron
    from snowflake.core.task.dagv1 import DAG

# snowflake.core is imported where a DAG is compiled, not with this module: importing it costs seconds (its REST
# models load at import), and the engine's read side (runs, history) uses the plain definitions below.

# The pattern snowflake-core's Task model enforces on names at deploy.
_NAME = re.compile(r'^"([^"]|"")+"|[a-zA-Z_][a-zA-Z0-9_$]*$')
ROOT = ""  # key of the dummy root among task names; no task may be named "" so it cannot clash
DEFAULT_SUSPEND_AFTER = 10


@dataclass(frozen=True)
class PythonBody:
    """A Python handler called as ``func(session, *args)``, as Snowflake's stored-procedure wrapper does."""

    func: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class SqlBody:
    text: str


@dataclass(frozen=True)
class JobBody:
    """An ``snowflake.ml.jobs.MLJobDefinition`` (an ``@remote`` function), run synchronously as an ML Job."""

    func: Callable[..., Any]
    compute_pool: str
    target_instances: int
    min_instances: int | None
    name: str | None


TaskBody = PythonBody | SqlBody | JobBody


@dataclass(frozen=True)
class TaskDef:
    name: str  # as written in Python (branch literals compare against it)
    full_name: str  # Snowflake's stored name: <DAG>$<TASK>, upper-case when unquoted
    parents: tuple[str, ...]  # predecessors' short names; ROOT for top-level tasks; () for the finalizer
    body: TaskBody
    condition: Condition | None
    timeout_ms: int | None
    is_finalizer: bool


@dataclass(frozen=True)
class GraphDef:
    name: str  # the root's stored name (upper-case when unquoted)
    display_name: str  # as written
    tasks: dict[str, TaskDef]  # topological order; the finalizer last
    children: dict[str, tuple[str, ...]]  # ROOT included
    finalizer: str | None
    config: dict[str, Any]
    schedule: Schedule | None
    condition: Condition | None
    task_auto_retry_attempts: int
    user_task_timeout_ms: int | None
    suspend_task_after_num_failures: int
    overlap_policy: str
    by_full_name: dict[str, str] = field(default_factory=dict)  # stored full name → short name
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    def ancestors(self, name: str) -> frozenset[str]:
        """Every task upstream of ``name`` (the root included); for the finalizer, every task of the graph."""
        if name not in self._ancestors:
            task = self.tasks[name]
            if task.is_finalizer:
                found = frozenset({ROOT, *(n for n in self.tasks if n != name)})
            else:
                acc: set[str] = set()
                for p in task.parents:
                    acc.add(p)
                    if p != ROOT:
                        acc |= self.ancestors(p)
                found = frozenset(acc)
            self._ancestors[name] = found
        return self._ancestors[name]

    def structure(self) -> dict[str, Any]:
        """The graph's shape as plain JSON-able data (for the store and the CLI's ``graph`` command)."""
        return {
            "name": self.name,
            "finalizer": self.finalizer,
            "tasks": [
                {
                    "name": t.name,
                    "full_name": t.full_name,
                    "predecessors": [p for p in t.parents if p != ROOT],
                    "condition": t.condition.text if t.condition else None,
                    "is_finalizer": t.is_finalizer,
                    "kind": type(t.body).__name__.removesuffix("Body").lower(),
                }
                for t in self.tasks.values()
            ],
        }


def compile_dag(dag: DAG) -> GraphDef:
    """Validate ``dag`` as a deploy would and compile it; raises ``InvalidName``/``InvalidConfig``."""
    from snowflake.core._internal.utils import normalize_name

    _check_name(dag.name, "task graph")
    root = normalize_name(dag.name)
    tasks = list(dag.tasks)
    if len(tasks) + 1 > MAX_TASKS:
        raise InvalidConfig(
            f"task graph {dag.name} has {len(tasks) + 1} tasks; Snowflake allows at most {MAX_TASKS}"
        )
    seen: dict[str, str] = {root: dag.name}
    for t in tasks:
        _check_name(t.name, "task")
        full = normalize_name(t.full_name)
        if full in seen:
            raise InvalidConfig(f"task {t.name!r} and {seen[full]!r} are both stored as {full}; rename one")
        seen[full] = t.name
    finalizers = [t.name for t in tasks if t._is_finalizer]
    if len(finalizers) > 1:
        raise InvalidConfig(
            f"Finalizer task for this Dag {finalizers[1]} already exists named: {finalizers[0]}"
        )
    for t in tasks:
        for p in t.predecessors:
            if p.dag is not dag or dag.get_task(p.name) is not p:
                raise InvalidConfig(
                    f"Task {p.name} belongs to a different task graph (predecessor of {t.name})"
                )
            if p._is_finalizer:
                raise InvalidConfig(f"Finalizer task {p.name} cannot be predecessor of any task")
        if t._is_finalizer and t.predecessors:
            raise InvalidConfig(f"Finalizer task {t.name} cannot have any predecessors")
    predecessors = {t.name: [p.name for p in t.predecessors] for t in tasks}
    check_fan(dag.name, predecessors, finalizers[0] if finalizers else None)
    by_name = {t.name: t for t in tasks}
    # the finalizer goes last: it follows every other task of the attempt
    order = [
        by_name[n] for n in topological_order({n: p for n, p in predecessors.items() if n not in finalizers})
    ]
    order += [by_name[n] for n in finalizers]
    retries = dag.task_auto_retry_attempts or 0
    check_retry_attempts(retries)
    suspend_after = (
        DEFAULT_SUSPEND_AFTER
        if dag.suspend_task_after_num_failures is None
        else dag.suspend_task_after_num_failures
    )
    check_suspend_after(suspend_after)
    check_config_values(dag.config or {})
    defs: dict[str, TaskDef] = {}
    for t in order:
        defs[t.name] = TaskDef(
            name=t.name,
            full_name=normalize_name(t.full_name),
            parents=() if t._is_finalizer else tuple(sorted(p.name for p in t.predecessors)) or (ROOT,),
            body=_body(t.definition, dag, t.name),
            condition=Condition.parse(t.condition) if t.condition else None,
            timeout_ms=_timeout(t.user_task_timeout_ms, t.name),
            is_finalizer=bool(t._is_finalizer),
        )
    children: dict[str, list[str]] = {ROOT: []}
    for d in defs.values():
        for p in d.parents:
            children.setdefault(p, []).append(d.name)
    return GraphDef(
        name=root,
        display_name=dag.name,
        tasks=defs,
        children={k: tuple(v) for k, v in children.items()},
        finalizer=finalizers[0] if finalizers else None,
        config=dict(dag.config or {}),
        schedule=_schedule(dag.schedule),
        condition=Condition.parse(dag.condition) if dag.condition else None,
        task_auto_retry_attempts=retries,
        user_task_timeout_ms=_timeout(dag.user_task_timeout_ms, dag.name),
        suspend_task_after_num_failures=suspend_after,
        overlap_policy=str(dag.effective_overlap_policy.value),
        by_full_name={d.full_name: d.name for d in defs.values()},
    )


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(
            f"invalid {what} name {name!r}: use letters, digits, '_' and '$', starting with a letter or '_' "
            "(or a double-quoted identifier)"
        )


def _timeout(ms: int | None, owner: str) -> int | None:
    check_timeout(ms, owner)
    return ms


def _schedule(schedule: Cron | timedelta | None) -> Schedule | None:
    from snowflake.core.task import Cron

    if schedule is None:
        return None
    if isinstance(schedule, timedelta):
        return IntervalSchedule(schedule)
    if isinstance(schedule, Cron):
        return CronSchedule(schedule.expr, schedule.timezone)
    raise InvalidConfig(f"schedule {schedule!r}: expected a timedelta or snowflake.core.task.Cron")


def _body(definition: Any, dag: DAG, name: str) -> TaskBody:
    """The task's body, converted in ``DAGTask._to_low_level_task``'s order."""
    from snowflake.core.task import StoredProcedureCall
    from snowflake.core.task.dagv1 import SQLConvertible

    job = _job_body(definition)
    if job is not None:
        return job
    if isinstance(definition, SQLConvertible):
        sql = definition.to_sql()
        if not isinstance(sql, str):
            raise InvalidConfig(f"task {name}: to_sql() must return a str, got {type(sql).__name__}")
        return SqlBody(sql)
    if isinstance(definition, StoredProcedureCall):
        func = definition.func
        if not callable(func):
            raise InvalidConfig(
                f"task {name}: a StoredProcedureCall of a registered procedure cannot run locally"
            )
        return PythonBody(_wrap(func, dag), tuple(definition._args))
    if callable(definition):
        return PythonBody(_wrap(definition, dag))
    if isinstance(definition, str):
        return SqlBody(definition)
    raise InvalidConfig(
        f"task {name}: definition {type(definition).__name__} is not SQL text, a Python callable, a "
        "StoredProcedureCall or an object with to_sql()"
    )


def _wrap(func: Callable[..., Any], dag: DAG) -> Callable[..., Any]:
    # dagv1's own wrapper, so the return value is str()-ed and set exactly as in Snowflake.
    from snowflake.core.task.dagv1 import _use_func_return_value

    return _use_func_return_value(func) if dag.use_func_return_value else func


def _job_body(definition: Any) -> JobBody | None:
    try:
        from snowflake.ml.jobs import MLJobDefinition
    except ImportError:  # snowflake-ml-python is optional for graphs without ML Jobs
        return None
    if not isinstance(definition, MLJobDefinition):
        return None
    if not callable(definition.source):
        raise InvalidConfig(
            f"ML Job definition {definition.name!r} runs a file ({definition.source!r}); "
            "the simulator runs only @remote functions as task definitions"
        )
    return JobBody(
        func=definition.source,
        compute_pool=definition.compute_pool,
        target_instances=definition.target_instances,
        min_instances=definition.min_instances,
        name=definition.name,
    )
