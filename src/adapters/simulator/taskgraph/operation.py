"""``LocalDAGOperation``: ``snowflake.core.task.dagv1.DAGOperation`` on the simulator's local account.

It deploys and runs the same ``DAG`` objects users hand to the real ``DAGOperation``. Differences, on purpose:
- ``run`` blocks until the run group (with its automatic retries) ends and returns its ``DAGRun``; ``start``
  and ``wait`` are the non-blocking pair. ``run`` also accepts ``config=`` (``EXECUTE TASK … USING CONFIG``).
- A refused graph (cycle, bad name, bad config) is refused before anything is stored, where Snowflake would
  leave the root behind.
- Errors are domain errors: a graph that exists raises ``AlreadyExists`` (Snowflake's ``ConflictError``), a
  missing one ``NotFound``, a cycle ``InvalidConfig`` (a ``ValueError``, as dagv1's) with dagv1's message.
- Python task definitions live in the deploying process; the home keeps the graph's state, structure,
  schedule and history. After a restart, pass the ``DAG`` object again (``run``/``deploy``) to run it.

Launching (run ids, the NO_OVERLAP queue, RETRY LAST, auto-suspend) is ``launcher.py``'s; one run group and its
automatic retries ``run_group.py``'s; one attempt ``attempt.py``'s; what a task sees ``task_scope.py``'s.

``cancel`` (``SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS``, also callable from task SQL) stops the runs this
operation is executing and drops its queued ones; it does not wait for them to end (``wait`` does). Runs of
other processes cannot be reached, but DuckDB lets only one process open a home, so there are none.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.taskgraph.attempt import EngineServices
from adapters.simulator.taskgraph.history_sql import GraphSql
from adapters.simulator.taskgraph.launcher import Launcher
from adapters.simulator.taskgraph.model import GraphDef, compile_dag
from adapters.simulator.taskgraph.run_group import RunGroup
from adapters.simulator.taskgraph.session import SessionFactory
from adapters.simulator.taskgraph.store import (
    CRASH_CODE,
    CRASH_MESSAGE,
    HISTORY_RETENTION,
    GraphRecord,
    GraphStore,
    RunRecord,
    TaskHistoryRecord,
)
from domain.errors import AlreadyExists, Conflict, InvalidConfig, NotFound, Unsupported
from domain.graph import GraphRunState, ScheduledFrom, TaskState
from domain.ports import Notifier
from domain.schedule import Clock, parse_schedule, utc_now

if TYPE_CHECKING:
    from snowflake.core._common import CreateMode
    from snowflake.core.task.dagv1 import DAG, DAGRun

# snowflake.core is imported only where a DAG object is handled (deploy, attach, running, dagv1's run views):
# importing it costs seconds (its REST models load at import), and the read side (runs, history, graph info)
# works on names and the store alone, for the CLI's read-only commands.

DATABASE = "SIMULATOR"
SCHEMA = "PUBLIC"
COMPLETE_WINDOW = timedelta(minutes=60)  # COMPLETE_TASK_GRAPHS' retention


class LocalDAGOperation:
    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        account: LocalAccount | None = None,
        notifier: Notifier | None = None,
        job_runner: Any = None,
        session_factory: SessionFactory | None = None,
        clock: Clock | None = None,
        max_workers: int = 8,
        on_recovered: Callable[[RunRecord], Mapping[str, str]] | None = None,
        history_retention: timedelta = HISTORY_RETENTION,
    ) -> None:
        """``home=None``: a temporary in-memory account; a path: that home; or an open ``account=``.

        ``notifier`` delivers ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION``; ``job_runner`` (``submit_function``,
        ``function_result`` and ``cancel_submitted_by``, called for a task that times out or is cancelled) runs ML
        Job task definitions; when not given, ``_default_notifier`` and ``_default_job_runner`` supply them (none
        here: the engine knows no other port; the public ``adapters.simulator.LocalDAGOperation`` wires the
        account's). ``session_factory`` receives each task's session and returns the object handed to the task
        (to attach adapters to it). ``on_recovered`` is called for each run a gone process left EXECUTING, once
        it is FAILED (its owner's finalizer never ran): it reconciles what the run did with what its history
        says, and returns the tasks the crash interrupted, each with what it had done, recorded as FAILED rows.
        ``history_retention``: how long finished runs and their task rows are kept (``GraphStore``).
        """
        if account is not None and home is not None:
            raise InvalidConfig("pass either home= or account= to LocalDAGOperation, not both")
        if max_workers < 1:
            raise InvalidConfig(f"max_workers={max_workers}: must be at least 1")
        self._owns_account = account is None
        self.account = account if account is not None else LocalAccount(home)
        if notifier is None:
            notifier = self._default_notifier()
        if job_runner is None:
            job_runner = self._default_job_runner(temporary=self._owns_account and home is None)
        self.store = GraphStore(self.account, retention=history_retention)
        self.clock: Clock = clock or utc_now
        recovered = self.store.recover_abandoned(utc_now())
        self.recovered_runs = len(recovered)
        for run in recovered if on_recovered is not None else ():
            self._record_crashed_tasks(run, on_recovered(run))
        services = EngineServices(
            self.account,
            self.store,
            notifier=notifier,
            job_runner=job_runner,
            session_factory=session_factory,
            max_workers=max_workers,
            cancel_graph=self.cancel,
            task_graphs=GraphSql(self),
        )
        self._launcher = Launcher(services, self.clock)
        self._graphs: dict[str, GraphDef] = {}

    def _record_crashed_tasks(self, run: RunRecord, interrupted: Mapping[str, str]) -> None:
        graph = self.store.graph(run.root_task_name)
        tasks = graph.structure.get("tasks", []) if graph is not None else []
        full_names = {t["name"]: t["full_name"] for t in tasks}
        recorded = {h.name for h in self.store.history(run.root_task_name, group_id=run.graph_run_group_id)}
        self.store.append_history(
            [
                TaskHistoryRecord(
                    name=full_names.get(task, f"{run.root_task_name}${task.upper()}"),
                    root_task_name=run.root_task_name,
                    run_id=run.run_id,
                    graph_run_group_id=run.graph_run_group_id,
                    attempt_number=run.attempt_number,
                    state=TaskState.FAILED,
                    return_value=None,
                    error_code=CRASH_CODE,
                    error_message=f"{CRASH_MESSAGE}: {message}",
                    condition_text=None,
                    scheduled_time=run.scheduled_time,
                    query_start_time=run.query_start_time,
                    completed_time=run.completed_time,
                    scheduled_from=run.scheduled_from,
                    graph_version=run.graph_version,
                )
                for task, message in interrupted.items()
                if full_names.get(task) not in recorded  # a task that finished keeps its own row
            ]
        )

    def _default_notifier(self) -> Notifier | None:
        return None

    def _default_job_runner(self, *, temporary: bool) -> Any:
        return None

    # deploy, drop, suspend, resume ----------------------------------------------------------------------------

    def deploy(self, dag: DAG, mode: CreateMode | str = "error_if_exists") -> None:
        from snowflake.core._common import CreateMode

        mode = CreateMode[mode]
        graph = compile_dag(dag)
        existing = self.store.graph(graph.name)
        full_names = [t.full_name for t in graph.tasks.values()]
        if mode is not CreateMode.or_replace:
            if existing is not None:  # dagv1 always creates the root with error_if_exists
                raise AlreadyExists(
                    f"task graph {graph.name} already exists; deploy with mode=CreateMode.or_replace to replace it"
                )
            leftovers = self.store.leftover_tasks(full_names)
            if leftovers and mode is CreateMode.error_if_exists:
                raise AlreadyExists(
                    f"task {leftovers[0]} already exists: drop(dag) keeps the finalizer unless "
                    "drop_finalizer=True; drop it that way or deploy with mode=CreateMode.or_replace"
                )
        now = self.clock()
        self.store.put_graph(
            GraphRecord(
                name=graph.name,
                display_name=graph.display_name,
                state="started" if graph.schedule is not None else "suspended",
                structure=graph.structure(),
                config=graph.config,
                schedule=graph.schedule.text() if graph.schedule is not None else None,
                overlap_policy=graph.overlap_policy,
                task_auto_retry_attempts=graph.task_auto_retry_attempts,
                suspend_after=graph.suspend_task_after_num_failures,
                graph_version=(existing.graph_version + 1) if existing else 1,
                root_uuid=str(uuid.uuid4()),
                created_on=now,
                schedule_base=now if graph.schedule is not None else None,
                next_due=graph.schedule.next_after(now) if graph.schedule is not None else None,
            ),
            replace_tasks=full_names,
        )
        self._graphs[graph.name] = graph

    def attach(self, dag: DAG) -> None:
        """Give this process the task definitions of a graph deployed earlier, perhaps by another process,
        without deploying it again: its schedule, state, config and history stay as they are.

        Python callables cannot be stored in the home, so a process that only runs graphs (the scheduler)
        attaches the DAG it was given. The DAG must have the deployed structure.
        """
        graph = compile_dag(dag)
        record = self.store.graph(graph.name)
        if record is None:
            raise NotFound(f"task graph {graph.name} is not deployed; deploy it first")
        if record.structure != graph.structure():
            raise Conflict(
                f"task graph {graph.name} as deployed differs from the one given (tasks, edges or conditions); "
                "deploy it again to replace it"
            )
        self._graphs[graph.name] = graph

    def drop(self, dag: DAG | str, *, drop_finalizer: bool = False) -> None:
        """Drop the graph; as in dagv1 the finalizer is kept (and warned about) unless ``drop_finalizer``."""
        if not drop_finalizer:
            warnings.warn(
                "drop_finalizer=False keeps the finalizer task; pass drop_finalizer=True to drop it too",
                DeprecationWarning,
                stacklevel=2,
            )
        name = _name(dag)
        record = self.store.graph(name)
        if record is None:
            return
        finalizer = record.structure.get("finalizer")
        kept = None
        if finalizer and not drop_finalizer:
            kept = next(t["full_name"] for t in record.structure["tasks"] if t["name"] == finalizer)
        self.store.drop_graph(name, keep_task=kept)
        self._graphs.pop(name, None)

    def delete(self, dag: DAG | str) -> None:
        """``DAGOperation.delete``: deprecated there in favour of ``drop``, which it calls (keeping the finalizer)."""
        # The warning dagv1's ``@deprecated("drop")`` gives (snowflake/core/_internal/utils.py ``deprecated``),
        # written out so that importing this module does not import snowflake.core.
        warnings.warn(
            "The :func:`delete` method is deprecated; use :func:`drop` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        self.drop(dag)

    def suspend(self, dag: DAG | str) -> None:
        self._record(dag)
        self.store.update_graph(_name(dag), state="suspended", next_due=None)

    def resume(self, dag: DAG | str) -> None:
        """Resume the root; an interval schedule's base time is set now, as RESUME does in Snowflake."""
        record = self._record(dag)
        now = self.clock()
        schedule = parse_schedule(record.schedule) if record.schedule else None
        self.store.update_graph(
            record.name,
            state="started",
            last_suspended_reason=None,
            consecutive_failures=0,
            schedule_base=now if schedule else None,
            next_due=schedule.next_after(now) if schedule else None,
        )

    # running -------------------------------------------------------------------------------------------------

    def run(
        self, dag: DAG | str, *, retry_last: bool = False, config: dict[str, Any] | None = None
    ) -> DAGRun:
        """``EXECUTE TASK root [RETRY LAST] [USING CONFIG]``; blocks until the run group ends."""
        group = self._launch(dag, retry_last=retry_last, config=config)
        return _ended(Launcher.wait(group, timeout=None))

    def start(
        self,
        dag: DAG | str,
        *,
        retry_last: bool = False,
        config: dict[str, Any] | None = None,
        scheduled_time: datetime | None = None,
        scheduled_from: ScheduledFrom = ScheduledFrom.EXECUTE_TASK,
    ) -> int:
        """Start a run group in the background and return its run id (``wait`` follows it)."""
        return self._launch(
            dag,
            retry_last=retry_last,
            config=config,
            scheduled_time=scheduled_time,
            scheduled_from=scheduled_from,
        ).meta.run_id

    def wait(self, dag: DAG | str, run_id: int, timeout: float | None = None) -> DAGRun:
        name = _name(dag)
        group = self._launcher.find(name, run_id)
        if group is not None:
            return _ended(Launcher.wait(group, timeout=timeout))
        runs = self.store.runs(name, run_id=run_id, limit=1)
        if not runs:
            raise NotFound(f"no run {run_id} of task graph {name}")
        return _dag_run(runs[0])

    def cancel(self, dag: DAG | str) -> list[int]:
        """``SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS``: cancel the graph's in-flight runs; returns their ids.

        Executing tasks end CANCELLED (their threads are abandoned and their DuckDB statements interrupted),
        tasks not yet started do not run, the finalizer still runs, and the run ends CANCELLED (FAILED if a task
        failed) without an automatic retry. Queued runs are dropped: they never start. Returns at once.
        """
        name = _name(_unqualified(dag))
        run_ids = self._launcher.cancel(name)
        if not run_ids:
            # Only now ask the store (NotFound for an unknown graph): a running task may hold the account's
            # lock for as long as its statement runs, and a cancel must reach it without waiting for that.
            self._record(name)
        return run_ids

    def wait_all(self) -> None:
        """Wait for every run this operation started (the scheduler drains with it when it stops)."""
        self._launcher.wait_all()

    def is_executing(self, dag: DAG | str) -> bool:
        return self._launcher.is_executing(_name(dag))

    def has_definitions(self, dag: DAG | str) -> bool:
        return _name(dag) in self._graphs

    def definitions(self) -> dict[str, GraphDef]:
        """The compiled graphs whose task definitions this process holds, by name."""
        return dict(self._graphs)

    def live_task_states(self, dag: DAG | str, run_id: int) -> dict[str, TaskState] | None:
        """Task states of an in-flight run (short names), or None once it has ended."""
        return self._launcher.live_task_states(_name(dag), run_id)

    def _launch(
        self,
        dag: DAG | str,
        *,
        retry_last: bool,
        config: dict[str, Any] | None,
        scheduled_time: datetime | None = None,
        scheduled_from: ScheduledFrom = ScheduledFrom.EXECUTE_TASK,
    ) -> RunGroup:
        record = self._record(dag)
        graph = self._graph(dag)
        return self._launcher.launch(
            record,
            graph,
            retry_last=retry_last,
            config=config,
            scheduled_time=scheduled_time,
            scheduled_from=scheduled_from,
        )

    # reading -------------------------------------------------------------------------------------------------

    def get_current_dag_runs(self, dag: DAG | str) -> list[DAGRun]:
        """EXECUTING runs, and the next SCHEDULED one of a started, scheduled graph (CURRENT_TASK_GRAPHS)."""
        name = _name(dag)
        record = self._record(dag)
        runs = [_dag_run(r) for r in self.store.runs(name, states=[GraphRunState.EXECUTING])]
        if record.state == "started" and record.next_due is not None:
            from snowflake.core.task.dagv1 import DAGRun

            scheduled = DAGRun()
            _fill(
                scheduled,
                name,
                GraphRunState.SCHEDULED,
                int(record.next_due.timestamp() * 1000),
                record.next_due,
            )
            scheduled.graph_version = record.graph_version
            runs.append(scheduled)
        return runs

    def get_complete_dag_runs(self, dag: DAG | str, *, error_only: bool = True) -> list[DAGRun]:
        """Runs that ended in the last 60 minutes, newest first; only FAILED/CANCELLED unless ``error_only=False``."""
        states = [GraphRunState.FAILED, GraphRunState.CANCELLED]
        if not error_only:
            states.append(GraphRunState.SUCCEEDED)
        runs = self.store.runs(_name(dag), states=states, since=utc_now() - COMPLETE_WINDOW)
        return [_dag_run(r) for r in runs]

    def iter_dags(self, *, like: str) -> list[str]:
        """Root names matching ``like`` (case-insensitive, ``%`` and ``_``), as SHOW TASKS … ROOT_ONLY."""
        return self.store.like(like)

    def task_history(self, dag: DAG | str, run_id: int | None = None) -> list[TaskHistoryRecord]:
        """TASK_HISTORY rows of the graph (or of one run, all its attempts), oldest first."""
        return self.store.history(_name(dag), run_id=run_id)

    def graph_runs(
        self, dag: DAG | str, *, run_id: int | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """Graph-run attempts (COMPLETE_TASK_GRAPHS rows plus executing ones, with TASK_STATES), newest first."""
        return self.store.runs(_name(dag), run_id=run_id, limit=limit)

    def task_states(self, dag: DAG | str, run_id: int) -> dict[str, TaskState]:
        """Every task's state in the latest attempt of a run, NOT_EXECUTED ones included (they have no row)."""
        runs = self.store.runs(_name(dag), run_id=run_id, limit=1)
        if not runs:
            raise NotFound(f"no run {run_id} of task graph {_name(dag)}")
        return runs[0].task_states

    def graph_info(self, dag: DAG | str) -> GraphRecord:
        """The deployed graph's stored record: state, schedule, config, and ``structure`` (tasks, edges, finalizer)."""
        return self._record(dag)

    # plumbing ------------------------------------------------------------------------------------------------

    def _record(self, dag: DAG | str) -> GraphRecord:
        record = self.store.graph(_name(dag))
        if record is None:
            raise NotFound(f"task graph {_name(dag)} does not exist (deploy it first, or it was dropped)")
        return record

    def _graph(self, dag: DAG | str) -> GraphDef:
        name = _name(dag)
        if name not in self._graphs:
            if isinstance(dag, str):
                raise Unsupported(
                    f"task graph {name} was deployed by another process and its Python task definitions live "
                    "there; pass the DAG object (or deploy it again) to run it here"
                )
            self._graphs[name] = compile_dag(dag)
        return self._graphs[name]

    def close(self) -> None:
        self.wait_all()
        if self._owns_account:
            self.account.close()

    def __enter__(self) -> LocalDAGOperation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _name(dag: DAG | str) -> str:
    name = dag if isinstance(dag, str) else dag.name if _is_dag(dag) else dag
    if not isinstance(name, str) or not name:
        raise InvalidConfig(f"task graph {name!r}: expected a DAG or its name")
    if _UNQUOTED.fullmatch(name):
        # what normalize_name does to an unquoted identifier (upper case), without importing snowflake.core
        return name.upper()
    from snowflake.core._internal.utils import normalize_name

    return normalize_name(name)


# snowflake.core._internal.utils.UNQUOTED_CASE_INSENSITIVE, at Snowflake's 255-character limit
_UNQUOTED = re.compile(r"[_A-Za-z][_A-Za-z0-9$]{0,254}")


def _is_dag(obj: object) -> bool:
    # Whoever holds a DAG has imported dagv1 already, so this import is free then.
    from snowflake.core.task.dagv1 import DAG

    return isinstance(obj, DAG)


def _unqualified(dag: DAG | str) -> DAG | str:
    """``SIMULATOR.PUBLIC.NAME`` (how a qualified root reaches SQL) names the graph ``NAME``."""
    if isinstance(dag, str) and dag.count(".") == 2:
        database, schema, name = dag.split(".")
        if database.upper() == DATABASE and schema.upper() == SCHEMA:
            return name
    return dag


def _ended(group: RunGroup) -> DAGRun:
    """The ended run group as dagv1 reports it; without a graph-run row when it was skipped or dropped."""
    from snowflake.core.task.dagv1 import DAGRun

    if group.record is not None:
        return _dag_run(group.record)
    # the root's WHEN was false (SKIPPED; the state dagv1 shows), or it was cancelled while queued
    run = DAGRun()
    state = GraphRunState.CANCELLED if group.dropped else "SKIPPED"
    _fill(run, group.meta.graph.name, state, group.meta.run_id, group.meta.scheduled_time)
    run.graph_version = group.meta.graph_version
    return run


def _fill(run: DAGRun, name: str, state: str, run_id: int, scheduled_time: datetime) -> None:
    run.dag_name = name
    run.database_name = DATABASE
    run.schema_name = SCHEMA
    run.state = state
    run.run_id = run_id
    run.scheduled_time = scheduled_time
    run.first_error_task_name = run.first_error_code = run.first_error_message = None
    run.query_start_time = run.next_scheduled_time = None


def _dag_run(record: RunRecord) -> DAGRun:
    from snowflake.core.task.dagv1 import DAGRun

    run = DAGRun()
    _fill(run, record.root_task_name, record.state, record.run_id, record.scheduled_time)
    run.first_error_task_name = record.first_error_task_name
    run.first_error_code = record.first_error_code
    run.first_error_message = record.first_error_message
    run.query_start_time = record.query_start_time
    run.next_scheduled_time = record.next_scheduled_time
    run.graph_version = record.graph_version
    return run
