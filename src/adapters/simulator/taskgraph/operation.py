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

Manual runs follow the overlap policy: under NO_OVERLAP a run requested while one is executing is queued
until it ends, and another request before the queued run starts replaces it (taskgraph-semantics.md §3.8):
the queued run takes the newer request's config, keeps its run id and scheduled time, and both callers get
that run id, so ``wait`` on either follows the one run that happens. Under ALLOW_CHILD_OVERLAP and
ALLOW_ALL_OVERLAP a run starts at once (the dummy root finishes immediately, so the two coincide here).
RETRY LAST while a run of the graph is executing or queued is refused with ``Conflict``.

``cancel`` (``SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS``, also callable from task SQL) stops the runs this
operation is executing and drops its queued ones; it does not wait for them to end (``wait`` does). Runs of
other processes cannot be reached, but DuckDB lets only one process open a home, so there are none.

Run ids are unique per graph: launches are serialised, so allocating an id and registering its run are one
step.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid
import warnings
from datetime import datetime, timedelta
from typing import Any

from snowflake.core._common import CreateMode
from snowflake.core._internal.utils import normalize_name
from snowflake.core.task.dagv1 import DAG, DAGRun

from adapters.simulator.home import LocalAccount
from adapters.simulator.taskgraph.clock import Clock, SystemClock
from adapters.simulator.taskgraph.engine import Engine, LiveRun, RunMeta, merge_config, utcnow
from adapters.simulator.taskgraph.model import GraphDef, compile_dag
from adapters.simulator.taskgraph.session import SessionFactory
from adapters.simulator.taskgraph.store import GraphRecord, GraphStore, RunRecord, TaskHistoryRecord
from domain.errors import AlreadyExists, Conflict, InvalidConfig, JobTimeout, NotFound, Unsupported
from domain.ports import Notifier
from domain.schedule import parse_schedule

DATABASE = "SIMULATOR"
SCHEMA = "PUBLIC"
COMPLETE_WINDOW = timedelta(minutes=60)  # COMPLETE_TASK_GRAPHS' retention
SUSPENDED_DUE_TO_ERRORS = "SUSPENDED_DUE_TO_ERRORS"


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
    ) -> None:
        """``home=None``: a temporary in-memory account; a path: that home; or an open ``account=``.

        ``notifier`` delivers ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION``; ``job_runner`` (``submit_function`` and
        ``function_result``) runs ML Job task definitions; ``session_factory`` receives each task's session
        and returns the object handed to the task (to attach adapters to it).
        """
        if account is not None and home is not None:
            raise InvalidConfig("pass either home= or account= to LocalDAGOperation, not both")
        if max_workers < 1:
            raise InvalidConfig(f"max_workers={max_workers}: must be at least 1")
        self._owns_account = account is None
        self.account = account if account is not None else LocalAccount(home)
        self.store = GraphStore(self.account)
        self.clock: Clock = clock or SystemClock()
        self.recovered_runs = self.store.recover_abandoned(utcnow())
        self._engine = Engine(
            self.account,
            self.store,
            notifier=notifier,
            job_runner=job_runner,
            session_factory=session_factory,
            max_workers=max_workers,
            cancel_graph=self.cancel,
        )
        self._graphs: dict[str, GraphDef] = {}
        self._changed = threading.Condition()
        self._live: dict[str, list[LiveRun]] = {}
        self._dropped: dict[tuple[str, int], LiveRun] = {}  # cancelled while queued: no row, so kept for wait
        self._threads: list[threading.Thread] = []
        # One launch at a time: checking live runs, allocating a run id and registering the run are one step.
        self._launching = threading.Lock()

    # deploy, drop, suspend, resume ----------------------------------------------------------------------------

    def deploy(self, dag: DAG, mode: CreateMode = CreateMode.error_if_exists) -> None:
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
        now = self.clock.now()
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

    def suspend(self, dag: DAG | str) -> None:
        self._record(dag)
        self.store.update_graph(_name(dag), state="suspended", next_due=None)

    def resume(self, dag: DAG | str) -> None:
        """Resume the root; an interval schedule's base time is set now, as RESUME does in Snowflake."""
        record = self._record(dag)
        now = self.clock.now()
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
        live = self._launch(dag, retry_last=retry_last, config=config)
        return self._result(live, timeout=None)

    def start(
        self,
        dag: DAG | str,
        *,
        retry_last: bool = False,
        config: dict[str, Any] | None = None,
        scheduled_time: datetime | None = None,
        scheduled_from: str = "EXECUTE TASK",
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
        with self._changed:
            live = next((r for r in self._live.get(name, []) if r.meta.run_id == run_id), None)
            live = live or self._dropped.get((name, run_id))
        if live is not None:
            return self._result(live, timeout=timeout)
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
        with self._changed:
            runs = [r for r in self._live.get(name, []) if not r.dropped]
            for live in runs:
                if live.queued:
                    live.dropped = True
                else:
                    live.cancel()
        if not runs:
            # Only now ask the store (NotFound for an unknown graph): a running task may hold the account's
            # lock for as long as its statement runs, and a cancel must reach it without waiting for that.
            self._record(name)
        return [r.meta.run_id for r in runs]

    def wait_all(self) -> None:
        """Wait for every run this operation started (the scheduler drains with it when it stops)."""
        for thread in list(self._threads):
            thread.join()

    def is_executing(self, dag: DAG | str) -> bool:
        with self._changed:
            return bool(self._live.get(_name(dag)))

    def has_definitions(self, dag: DAG | str) -> bool:
        return _name(dag) in self._graphs

    def live_task_states(self, dag: DAG | str, run_id: int) -> dict[str, str] | None:
        """Task states of an in-flight run (short names), or None once it has ended."""
        with self._changed:
            live = next((r for r in self._live.get(_name(dag), []) if r.meta.run_id == run_id), None)
            return None if live is None else {n: s for n, s in dict(live.states).items() if n}

    def _launch(
        self,
        dag: DAG | str,
        *,
        retry_last: bool,
        config: dict[str, Any] | None,
        scheduled_time: datetime | None = None,
        scheduled_from: str = "EXECUTE TASK",
    ) -> LiveRun:
        record = self._record(dag)
        graph = self._graph(dag)
        if retry_last and config is not None:
            raise InvalidConfig("RETRY LAST reuses the failed run's config; do not pass config= with it")
        no_overlap = record.overlap_policy == "NO_OVERLAP"
        with self._launching:
            with self._changed:
                ahead = list(self._live.get(graph.name, []))
            if retry_last:
                if ahead:
                    raise Conflict(
                        f"RETRY LAST: run {ahead[0].meta.run_id} of task graph {graph.name} is still in progress; "
                        "wait for it to end, then retry"
                    )
                live, attempt, carried = self._retry(record, graph)
                scheduled_from = "MANUAL RETRY"
            else:
                run_config = merge_config(record.config, config)
                if no_overlap and (replaced := self._replace_queued(graph.name, run_config)) is not None:
                    return replaced
                when = scheduled_time or self.clock.now()
                last_ok = self.store.runs(graph.name, states=["SUCCEEDED"], limit=1)
                live = LiveRun(
                    RunMeta(
                        graph=graph,
                        graph_version=record.graph_version,
                        root_uuid=record.root_uuid,
                        run_id=self._new_run_id(graph.name, when, ahead),
                        group_id=str(uuid.uuid4()),
                        scheduled_time=when,
                        config=run_config,
                        last_successful=(last_ok[0].scheduled_time, last_ok[0].graph_run_group_id)
                        if last_ok
                        else None,
                    )
                )
                attempt, carried = 1, {}
            live.queued = no_overlap and bool(ahead)
            with self._changed:
                self._live.setdefault(graph.name, []).append(live)
        thread = threading.Thread(
            target=self._execute,
            args=(live, ahead if no_overlap else [], attempt, scheduled_from, carried),
            name=f"graph run {graph.name} {live.meta.run_id}",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return live

    def _replace_queued(self, name: str, config: dict[str, Any]) -> LiveRun | None:
        """NO_OVERLAP: a queued run takes over a newer EXECUTE's config; None when no run is queued."""
        with self._changed:
            queued = next((r for r in self._live.get(name, []) if r.queued and not r.dropped), None)
            if queued is not None:
                queued.meta = dataclasses.replace(queued.meta, config=config)
            return queued

    def _retry(self, record: GraphRecord, graph: GraphDef) -> tuple[LiveRun, int, dict[str, Any]]:
        """RETRY LAST: a new attempt of the last run group, keeping what succeeded or was skipped."""
        last = self.store.runs(graph.name, limit=1)
        if not last or last[0].state not in {"FAILED", "CANCELLED"}:
            state = last[0].state if last else "none"
            raise Conflict(
                f"RETRY LAST needs the last run of task graph {graph.name} to be FAILED or CANCELLED; it is {state}"
            )
        run = last[0]
        if run.graph_version != record.graph_version:
            raise Conflict(
                f"RETRY LAST: task graph {graph.name} changed since run {run.run_id} (version {run.graph_version} → "
                f"{record.graph_version}); start a new run instead"
            )
        values: dict[str, str | None] = {}
        for row in self.store.history(graph.name, group_id=run.graph_run_group_id):
            short = graph.by_full_name.get(row.name)
            if short is not None and row.state == "SUCCEEDED":
                values[short] = row.return_value
        carried = {n: (s, values.get(n)) for n, s in run.task_states.items() if s in {"SUCCEEDED", "SKIPPED"}}
        last_ok = self.store.runs(graph.name, states=["SUCCEEDED"], limit=1)
        meta = RunMeta(
            graph=graph,
            graph_version=record.graph_version,
            root_uuid=record.root_uuid,
            run_id=run.run_id,
            group_id=run.graph_run_group_id,
            scheduled_time=run.scheduled_time,
            config=run.config,
            last_successful=(last_ok[0].scheduled_time, last_ok[0].graph_run_group_id) if last_ok else None,
        )
        return LiveRun(meta), run.attempt_number + 1, carried

    def _execute(
        self,
        live: LiveRun,
        queued_behind: list[LiveRun],
        attempt: int,
        scheduled_from: str,
        carried: dict[str, Any],
    ) -> None:
        try:
            for earlier in queued_behind:  # NO_OVERLAP: a manual run waits for the executing one
                earlier.done.wait()
            with self._changed:  # from here on a newer EXECUTE queues behind this run instead of replacing it
                live.queued = False
            if not live.dropped:
                self._engine.run_group(live, attempt=attempt, scheduled_from=scheduled_from, carried=carried)
                self._count_failures(live)
        except BaseException as exc:  # surfaced by run()/wait(); never lost in a background thread
            live.error = exc
        finally:
            with self._changed:
                self._live[live.meta.graph.name].remove(live)
                if live.dropped:
                    self._dropped[(live.meta.graph.name, live.meta.run_id)] = live
                self._changed.notify_all()
            live.done.set()

    def _count_failures(self, live: LiveRun) -> None:
        """SUSPEND_TASK_AFTER_NUM_FAILURES: count finally-FAILED run groups in a row; suspend at the limit."""
        record, graph = live.record, live.meta.graph
        stored = self.store.graph(graph.name)
        if record is None or stored is None or record.state == "CANCELLED":
            return
        if record.state == "SUCCEEDED":
            self.store.update_graph(graph.name, consecutive_failures=0)
            return
        failures = stored.consecutive_failures + 1
        if 0 < stored.suspend_after <= failures:
            self.store.update_graph(
                graph.name,
                consecutive_failures=failures,
                state="suspended",
                next_due=None,
                last_suspended_reason=SUSPENDED_DUE_TO_ERRORS,
            )
            if record.first_error_task_name:
                self.store.mark_state(
                    record.graph_run_group_id,
                    record.attempt_number,
                    record.first_error_task_name,
                    "FAILED_AND_AUTO_SUSPENDED",
                )
        else:
            self.store.update_graph(graph.name, consecutive_failures=failures)

    def _result(self, live: LiveRun, timeout: float | None) -> DAGRun:
        if not live.done.wait(timeout):
            raise JobTimeout(
                f"run {live.meta.run_id} of task graph {live.meta.graph.name} did not end in {timeout} s"
            )
        if live.error is not None:
            raise live.error
        if (
            live.record is None
        ):  # the root's WHEN was false, or it was cancelled while queued: no graph-run row
            run = DAGRun()
            state = "CANCELLED" if live.dropped else "SKIPPED"
            _fill(run, live.meta.graph.name, state, live.meta.run_id, live.meta.scheduled_time)
            run.graph_version = live.meta.graph_version
            return run
        return _dag_run(live.record)

    def _new_run_id(self, name: str, when: datetime, live: list[LiveRun]) -> int:
        """Epoch milliseconds of the scheduled time, nudged forward when two runs share a millisecond.

        Called under ``_launching`` with the graph's live runs, so no other launch can take the same id.
        """
        run_id = int(when.timestamp() * 1000)
        taken = {r.meta.run_id for r in live}
        while run_id in taken or self.store.runs(name, run_id=run_id, limit=1):
            run_id += 1
        return run_id

    # reading -------------------------------------------------------------------------------------------------

    def get_current_dag_runs(self, dag: DAG | str) -> list[DAGRun]:
        """EXECUTING runs, and the next SCHEDULED one of a started, scheduled graph (CURRENT_TASK_GRAPHS)."""
        name = _name(dag)
        record = self._record(dag)
        runs = [_dag_run(r) for r in self.store.runs(name, states=["EXECUTING"])]
        if record.state == "started" and record.next_due is not None:
            scheduled = DAGRun()
            _fill(scheduled, name, "SCHEDULED", int(record.next_due.timestamp() * 1000), record.next_due)
            scheduled.graph_version = record.graph_version
            runs.append(scheduled)
        return runs

    def get_complete_dag_runs(self, dag: DAG | str, *, error_only: bool = True) -> list[DAGRun]:
        """Runs that ended in the last 60 minutes, newest first; only FAILED/CANCELLED unless ``error_only=False``."""
        states = ["FAILED", "CANCELLED"] if error_only else ["SUCCEEDED", "FAILED", "CANCELLED"]
        runs = self.store.runs(_name(dag), states=states, since=utcnow() - COMPLETE_WINDOW)
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

    def task_states(self, dag: DAG | str, run_id: int) -> dict[str, str]:
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
            if not isinstance(dag, DAG):
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
    name = dag.name if isinstance(dag, DAG) else dag
    if not isinstance(name, str) or not name:
        raise InvalidConfig(f"task graph {name!r}: expected a DAG or its name")
    return normalize_name(name)


def _unqualified(dag: DAG | str) -> DAG | str:
    """``SIMULATOR.PUBLIC.NAME`` (how a qualified root reaches SQL) names the graph ``NAME``."""
    if isinstance(dag, str) and dag.count(".") == 2:
        database, schema, name = dag.split(".")
        if database.upper() == DATABASE and schema.upper() == SCHEMA:
            return name
    return dag


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
    run = DAGRun()
    _fill(run, record.root_task_name, record.state, record.run_id, record.scheduled_time)
    run.first_error_task_name = record.first_error_task_name
    run.first_error_code = record.first_error_code
    run.first_error_message = record.first_error_message
    run.query_start_time = record.query_start_time
    run.next_scheduled_time = record.next_scheduled_time
    run.graph_version = record.graph_version
    return run
