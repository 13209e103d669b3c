"""The domain ``Scheduler`` port on the simulator: GraphSpec → dagv1 DAG → the local task-graph engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from adapters.simulator.taskgraph.operation import LocalDAGOperation
from adapters.simulator.taskgraph.store import RunRecord, TaskHistoryRecord
from domain.errors import InvalidConfig, NotFound
from domain.graph import DeployedGraph, GraphRun, GraphRunState, GraphSpec, TaskRun, TaskSpec, TaskState


class SimScheduler:
    """Deploys graphs in or-replace mode; ``run`` returns at once with the run id, ``wait`` follows it."""

    def __init__(self, operation: LocalDAGOperation, definition_for: Callable[[TaskSpec], Any]) -> None:
        self.operation = operation
        self._definition_for = definition_for

    # build_dag (and so snowflake.core, seconds to import) loads only when a graph is deployed or attached:
    # the read side (runs, history, deployed) needs neither.
    def deploy(self, graph: GraphSpec) -> None:
        from adapters.dagv1.build import build_dag

        self.operation.deploy(build_dag(graph, self._definition_for), mode="or_replace")

    def attach(self, graph: GraphSpec) -> None:
        """Make a graph deployed earlier runnable from this process (its schedule and history are kept)."""
        from adapters.dagv1.build import build_dag

        self.operation.attach(build_dag(graph, self._definition_for))

    def run(
        self, graph_name: str, *, config: Mapping[str, Any] | None = None, retry_last: bool = False
    ) -> str:
        return str(
            self.operation.start(
                graph_name, config=dict(config) if config is not None else None, retry_last=retry_last
            )
        )

    def wait(self, graph_name: str, run_id: str, timeout: float | None = None) -> GraphRun:
        ended = self.operation.wait(graph_name, _run_id(run_id), timeout=timeout)
        if ended.state == "CANCELLED" and not self.operation.graph_runs(graph_name, run_id=_run_id(run_id)):
            # cancelled while queued: it never started, so there is no graph-run row
            return GraphRun(ended.dag_name, run_id, GraphRunState.CANCELLED, ended.scheduled_time)
        return self._graph_run(graph_name, _run_id(run_id))

    def runs(self, graph_name: str, limit: int = 20) -> list[GraphRun]:
        """Graph runs, newest first, each as its latest attempt with every task's state."""
        latest: dict[int, RunRecord] = {}
        for record in self.operation.graph_runs(graph_name):
            latest.setdefault(record.run_id, record)
            if len(latest) == limit:
                break
        return [self._to_graph_run(graph_name, r) for r in latest.values()]

    def run_detail(self, graph_name: str, run_id: str) -> GraphRun:
        return self._graph_run(graph_name, _run_id(run_id))

    def task_history(self, graph_name: str, run_id: str | None = None) -> list[TaskRun]:
        rows = self.operation.task_history(graph_name, None if run_id is None else _run_id(run_id))
        return [_task_run(h) for h in rows]

    def live_task_states(self, graph_name: str, run_id: str) -> dict[str, str] | None:
        """Short task name → state while the run is in flight; None once it has ended."""
        return self.operation.live_task_states(graph_name, _run_id(run_id))

    def structure(self, graph_name: str) -> dict[str, Any]:
        """The deployed graph: ``tasks`` (name, full_name, predecessors, condition, is_finalizer, kind), ``finalizer``."""
        return self.operation.graph_info(graph_name).structure

    def deployed(self, graph_name: str) -> DeployedGraph:
        record = self.operation.graph_info(graph_name)
        return DeployedGraph(record.name, dict(record.config), record.schedule, record.state)

    def suspend(self, graph_name: str) -> None:
        self.operation.suspend(graph_name)

    def resume(self, graph_name: str) -> None:
        self.operation.resume(graph_name)

    def drop(self, graph_name: str) -> None:
        self.operation.graph_info(graph_name)  # NotFound for a graph that does not exist
        self.operation.drop(graph_name, drop_finalizer=True)

    def cancel(self, graph_name: str) -> list[str]:
        return [str(run_id) for run_id in self.operation.cancel(graph_name)]

    def _graph_run(self, graph_name: str, run_id: int) -> GraphRun:
        attempts = self.operation.graph_runs(graph_name, run_id=run_id, limit=1)
        if not attempts:
            raise NotFound(
                f"no graph run {run_id} of task graph {graph_name} (its root's condition may have skipped it)"
            )
        return self._to_graph_run(graph_name, attempts[0])

    def _to_graph_run(self, graph_name: str, record: RunRecord) -> GraphRun:
        rows: dict[str, TaskHistoryRecord] = {}
        for h in self.operation.task_history(graph_name, record.run_id):
            if h.graph_run_group_id == record.graph_run_group_id:
                rows[h.name] = h  # oldest first, so the latest attempt's row wins
        full_names = {
            t["name"]: t["full_name"] for t in self.operation.graph_info(graph_name).structure["tasks"]
        }
        tasks = []
        for short, state in record.task_states.items():
            full = full_names.get(short, f"{record.root_task_name}${short.upper()}")
            row = rows.pop(full, None)
            tasks.append(_task_run(row) if row else TaskRun(name=full, state=TaskState(state)))
        # A run ended by a crash has no final task states, but the history it wrote before is kept.
        tasks += [_task_run(row) for name, row in rows.items() if name != record.root_task_name]
        return GraphRun(
            graph_name=record.root_task_name,
            run_id=str(record.run_id),
            state=GraphRunState(record.state),
            scheduled_time=record.scheduled_time,
            attempt_number=record.attempt_number,
            scheduled_from=record.scheduled_from,
            query_start_time=record.query_start_time,
            completed_time=record.completed_time,
            first_error_task_name=record.first_error_task_name,
            first_error_message=record.first_error_message,
            tasks=tuple(tasks),
        )


def _task_run(row: TaskHistoryRecord) -> TaskRun:
    return TaskRun(
        name=row.name,
        state=TaskState(row.state),
        return_value=row.return_value,
        error_message=row.error_message,
        attempt_number=row.attempt_number,
        query_start_time=row.query_start_time,
        completed_time=row.completed_time,
        error_code=row.error_code,
        error_traceback=row.error_traceback,
        log=row.log_text,
    )


def _run_id(run_id: str) -> int:
    try:
        return int(run_id)
    except (TypeError, ValueError):
        raise InvalidConfig(f"run id {run_id!r} is not a run id (epoch milliseconds, digits only)") from None
