"""GraphSpec → ``snowflake.core.task.dagv1.DAG``: the one translation both backends use.

The Snowflake adapter deploys the DAG this builds; the simulator's engine runs the very same object. Task
definitions are supplied by the caller (a Python callable, SQL text, or an ML Job definition), because what a
task runs depends on where it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snowflake.core.task import Cron
from snowflake.core.task.dagv1 import DAG, DAGTask, DAGTaskBranch

from domain.graph import GraphSpec, OverlapPolicy, TaskSpec
from domain.schedule import CronSchedule, IntervalSchedule, Schedule

DefinitionFor = Callable[[TaskSpec], Any]


def to_dagv1_schedule(schedule: Schedule | None) -> Any:
    if schedule is None:
        return None
    if isinstance(schedule, IntervalSchedule):
        return schedule.every
    if isinstance(schedule, CronSchedule):
        return Cron(schedule.expression, schedule.timezone)
    raise TypeError(f"unknown schedule type {type(schedule).__name__}")


def build_dag(
    graph: GraphSpec,
    definition_for: DefinitionFor,
    *,
    stage_location: str | None = None,
    packages: list[str] | None = None,
    imports: list[Any] | None = None,
) -> DAG:
    """Build the dagv1 DAG for ``graph``; edges are added with ``add_predecessors`` so direction is explicit."""
    from snowflake.core.task._task import OverlapPolicy as SfOverlapPolicy

    dag = DAG(
        graph.name,
        schedule=to_dagv1_schedule(graph.schedule),
        warehouse=graph.warehouse,
        comment=graph.comment or None,
        task_auto_retry_attempts=graph.task_auto_retry_attempts or None,
        overlap_policy=None
        if graph.overlap_policy is OverlapPolicy.NO_OVERLAP
        else SfOverlapPolicy(graph.overlap_policy.value),
        user_task_timeout_ms=graph.user_task_timeout_ms,
        suspend_task_after_num_failures=graph.suspend_task_after_num_failures,
        config=dict(graph.config) or None,
        stage_location=stage_location,
        packages=packages,
        imports=imports,
        use_func_return_value=True,
    )
    tasks: dict[str, DAGTask] = {}
    for spec in graph.tasks:
        cls = DAGTaskBranch if spec.is_branch else DAGTask
        tasks[spec.name] = cls(
            spec.name,
            definition=definition_for(spec),
            condition=spec.condition,
            user_task_timeout_ms=spec.timeout_ms,
            comment=spec.comment or None,
            is_finalizer=True if spec.is_finalizer else None,
            dag=dag,
        )
    for spec in graph.tasks:
        if spec.predecessors:
            tasks[spec.name].add_predecessors([tasks[p] for p in spec.predecessors])
    return dag
