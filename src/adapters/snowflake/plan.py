"""What a deploy would create, and how it differs from what is deployed (for ``python -m app plan``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.dagv1.build import DefinitionFor, build_dag
from adapters.snowflake.errors import vendor_errors
from adapters.snowflake.scheduler import deploy_packages
from adapters.snowflake.session import SnowflakeNames
from domain.errors import NotFound, Unsupported
from domain.graph import GraphSpec

_ABSENT = "<absent>"


@dataclass(frozen=True)
class TaskDescription:
    name: str  # upper case, as Snowflake stores it: GRAPH$TASK
    predecessors: tuple[str, ...] = ()
    condition: str | None = None
    finalizer: bool = False


@dataclass(frozen=True)
class GraphDescription:
    name: str
    tasks: dict[str, TaskDescription] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    warehouse: str | None = None


class DeployPlan:
    """What a deploy to Snowflake would create, built offline (dagv1 makes the tasks; nothing is connected),
    and — given a session (the snowflake backend) — how it differs from what is deployed."""

    def __init__(
        self, names: SnowflakeNames, definition_for: DefinitionFor, session: Callable[[], Any] | None = None
    ) -> None:
        self.names = names
        self._definition_for = definition_for
        self._session = session

    def build(self, graph: GraphSpec) -> Any:
        # No imports: the project's zips are made by a deploy, and a plan describes the tasks only.
        return build_dag(
            graph, self._definition_for, stage_location=self.names.dag_stage, packages=deploy_packages()
        )

    def describe(self, graph: GraphSpec) -> GraphDescription:
        return described_spec(graph, self)

    @property
    def can_compare(self) -> bool:
        """Whether there is an account to compare with (the simulator backend's plan is offline only)."""
        return self._session is not None

    def changes(self, spec: GraphDescription) -> list[str]:
        """``diff`` against the deployed graph (``NotFound`` when it is not deployed)."""
        if self._session is None:
            raise Unsupported(
                "an offline plan has no deployed graph to compare with; use --backend snowflake"
            )
        return diff(spec, deployed_graph(self._session(), self.names, spec.name))


def described_spec(graph: GraphSpec, scheduler: Any) -> GraphDescription:
    """The spec as the low-level tasks dagv1 produces from it (``scheduler.build``)."""
    dag = scheduler.build(graph)
    root = dag._to_low_level_task()
    tasks = {}
    for task in dag.tasks:
        low = task._to_low_level_task()
        tasks[low.name.upper()] = TaskDescription(
            low.name.upper(),
            tuple(sorted(p.upper() for p in (low.predecessors or []))),
            low.condition,
            bool(low.finalize),
        )
    return GraphDescription(
        root.name.upper(), tasks, dict(root.config or {}), _schedule(root.schedule), root.warehouse
    )


def _schedule(schedule: Any) -> str | None:
    return None if schedule is None else str(schedule)


def deployed_graph(
    session: Any, names: SnowflakeNames, graph_name: str, *, schema: Any = None
) -> GraphDescription:
    """The deployed graph read back through snowflake.core (``NotFound`` when it is not deployed)."""
    from snowflake.core import Root
    from snowflake.core.exceptions import NotFoundError

    root_name = graph_name.upper()
    with vendor_errors(f"task graph {names.qualified(root_name)}"):
        schema = schema or Root(session).databases[names.database].schemas[names.schema]
        try:
            root = schema.tasks[root_name].fetch()
        except NotFoundError:
            raise NotFound(f"task graph {names.qualified(root_name)} is not deployed") from None
        dependents = schema.tasks[root_name].fetch_task_dependents()
    tasks = {}
    for task in dependents:
        if task.name.upper() == root_name:
            continue
        tasks[task.name.upper()] = TaskDescription(
            task.name.upper(),
            tuple(sorted(p.rsplit(".", 1)[-1].upper() for p in (task.predecessors or []))),
            task.condition,
            bool(task.finalize),
        )
    config = root.config if isinstance(root.config, dict) else json.loads(root.config or "{}")
    return GraphDescription(root_name, tasks, dict(config), _schedule(root.schedule), root.warehouse)


def diff(spec: GraphDescription, deployed: GraphDescription) -> list[str]:
    """Human-readable differences: ``+`` a deploy would add, ``-`` it would remove, ``~`` it would change."""
    out = [f"+ task {n}" for n in sorted(set(spec.tasks) - set(deployed.tasks))]
    out += [f"- task {n}" for n in sorted(set(deployed.tasks) - set(spec.tasks))]
    for name in sorted(set(spec.tasks) & set(deployed.tasks)):
        want, have = spec.tasks[name], deployed.tasks[name]
        for attr in ("predecessors", "condition", "finalizer"):
            if getattr(want, attr) != getattr(have, attr):
                out.append(f"~ task {name} {attr}: {getattr(have, attr)!r} -> {getattr(want, attr)!r}")
    # Config key by key: a changed threshold reads as one line, not two copies of the whole mapping.
    for key in sorted(set(spec.config) | set(deployed.config)):
        want, have = spec.config.get(key, _ABSENT), deployed.config.get(key, _ABSENT)
        if want != have:
            out.append(f"~ graph config {key}: {have!r} -> {want!r}")
    for attr in ("schedule", "warehouse"):
        want, have = getattr(spec, attr), getattr(deployed, attr)
        if (str(want).upper() if attr == "warehouse" else want) != (
            str(have).upper() if attr == "warehouse" else have
        ):
            out.append(f"~ graph {attr}: {have!r} -> {want!r}")
    return out
