"""One graph-run attempt: its scheduling loop, its tasks on threads, its bookkeeping — with Snowflake's rules.

Per attempt (``taskgraph-semantics.md`` §3, §5):
- the dummy root first (its WHEN false ⇒ the run is skipped: no rows, no finalizer); it returns no value;
- a child is considered once every predecessor is terminal. Default rule: any predecessor not SUCCEEDED ⇒
  NOT_EXECUTED (no history row; the state is kept in the run's ``TASK_STATES``); else WHEN false ⇒ SKIPPED;
  else it runs. A WHEN using ``SYSTEM$PREDECESSORS_STATE`` replaces the default rule;
- independent tasks run concurrently, each on its own daemon thread (at most ``max_workers`` at once);
- the finalizer runs once per attempt, after every other task is terminal, also after failures;
- the attempt is FAILED if any task failed, else CANCELLED if any was cancelled, else SUCCEEDED.

Timeouts: a task's ``user_task_timeout_ms``, else the root's (the default for every task), else one hour. A
task over its limit is FAILED with a timeout message — also when its completion arrives after the deadline —
and its thread is abandoned: its running DuckDB statement is interrupted and its later ones are refused, but
Python threads cannot be killed, so other work of the thread runs on in the background and is ignored.
Threads rather than subprocesses because task code receives a live session over the home's single DuckDB
connection, which cannot cross a process boundary. The loop never waits for the account lock while tasks
run (a task's statement holds it): task rows are written when the lock is free, so deadlines are kept.

Cancelling (``SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS``): every EXECUTING task of the attempt ends CANCELLED
and its thread is abandoned as a timed-out task's is; tasks not yet started become NOT_EXECUTED (carried ones
keep their state) and nothing new starts. The finalizer still runs — a cancel that arrives while it runs
cancels it too, as it is then the ongoing execution. The attempt ends FAILED if a task failed, else CANCELLED.

An unexpected error inside an attempt (the store failing, say) ends the attempt FAILED with that error;
its still-running tasks are abandoned like timed-out ones.

State: the attempt owns its task states and return values (the run group exposes them read-only while it
runs); each task's ``TaskScope`` owns its return value. Execution times (``QUERY_START_TIME``,
``COMPLETED_TIME``) are the wall clock.
"""

from __future__ import annotations

import inspect
import queue
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.sql.system import SystemFunctions
from adapters.simulator.taskgraph.capture import MAX_TRACEBACK_CHARS, bounded, captured_output
from adapters.simulator.taskgraph.conditions import Condition
from adapters.simulator.taskgraph.model import ROOT, JobBody, PythonBody, SqlBody, TaskDef
from adapters.simulator.taskgraph.run_meta import Carried, RunMeta
from adapters.simulator.taskgraph.session import SessionFactory, bind_active
from adapters.simulator.taskgraph.store import GraphStore, RunRecord, TaskHistoryRecord
from adapters.simulator.taskgraph.task_scope import TaskScope
from domain.errors import Unsupported
from domain.graph import GraphRunState, ScheduledFrom, TaskState
from domain.ports import Notifier
from domain.schedule import utc_now

if TYPE_CHECKING:  # Snowpark takes seconds to import: reading history never loads it
    from adapters.simulator.sql.session import TaskSession
    from adapters.simulator.sql.taskgraph_sql import TaskGraphs

DEFAULT_TIMEOUT_MS = 3_600_000
TASK_ERROR_CODE = 100132  # Snowflake's code for an error raised by procedure code
TIMEOUT_ERROR_CODE = 630  # "Statement reached its statement or warehouse timeout"
CANCEL_ERROR_CODE = 604  # "SQL execution canceled"
_FLUSH_SECONDS = (
    0.05  # task rows reach the store at least this often: a crash loses at most this much history
)


@dataclass(frozen=True)
class EngineServices:
    """What every attempt runs with: the account and its store, what tasks are handed, the worker limit."""

    account: LocalAccount
    store: GraphStore
    notifier: Notifier | None
    job_runner: Any
    session_factory: SessionFactory | None
    max_workers: int
    cancel_graph: Callable[[str], list[int]]  # SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS from task SQL
    # EXECUTE TASK, TASK_HISTORY, … from task SQL (history_sql.GraphSql)
    task_graphs: TaskGraphs | None = None

    def run_job(self, body: JobBody, handle: TaskSession, task: TaskDef) -> None:
        if self.job_runner is None:
            raise Unsupported(
                f"task {task.full_name} is an ML Job definition; pass job_runner=... (with submit_function and "
                "function_result) to LocalDAGOperation to run it"
            )
        from adapters.simulator.sql.session import session_options

        # The job's processes log in to the account's server with the task's key: get_active_session() there
        # is a Snowpark session of this task, and a function with a parameter receives it, as in Snowflake.
        job = self.job_runner.submit_function(
            body.func,
            compute_pool=body.compute_pool,
            target_instances=body.target_instances,
            min_instances=body.min_instances,
            name=body.name,
            session=session_options(self.account, handle.key),
            session_argument=bool(inspect.signature(body.func).parameters),
        )
        self.job_runner.function_result(job)


class Attempt:
    """One graph-run attempt: the scheduling loop and its bookkeeping.

    ``cancel_requests`` reads how many cancels the run group has received; each one seen stops what executes.
    """

    def __init__(
        self,
        services: EngineServices,
        meta: RunMeta,
        attempt: int,
        scheduled_from: ScheduledFrom,
        carried: Carried,
        cancel_requests: Callable[[], int],
    ) -> None:
        self.engine = services
        self.meta = meta
        self._cancel_requests = cancel_requests
        self.attempt = attempt
        self.scheduled_from = scheduled_from
        self.carried = carried
        self.states: dict[str, TaskState] = {}
        self.values: dict[str, str | None] = {
            n: v for n, (s, v) in carried.items() if s is TaskState.SUCCEEDED
        }
        self.first_error: tuple[str, int, str] | None = None
        self.cancelled = False  # a cancel request stopped something: the attempt ends CANCELLED unless FAILED
        self._cancels_seen = 0
        self._rows: list[TaskHistoryRecord] = []
        self._flushed_at = time.monotonic()
        # None is a wake-up: a cancel request arrived
        self._completions: queue.SimpleQueue[_Completion | None] = queue.SimpleQueue()
        self._running: dict[str, tuple[TaskScope, float, datetime]] = {}
        self._ready: deque[str] = deque()
        self._resolved: deque[str] = deque()
        graph = self.meta.graph
        self._sessions: dict[int, TaskSession] = {}  # id(scope) -> the running task's session
        self._waiting = {n: len(t.parents) for n, t in graph.tasks.items() if not t.is_finalizer}

    def wake(self) -> None:
        """A cancel request arrived: the loop sees it at once instead of at its next completion."""
        self._completions.put(None)

    # the attempt --------------------------------------------------------------------------------------------

    def run(self) -> RunRecord | None:
        graph = self.meta.graph
        if self.attempt == 1 and graph.condition is not None and not self._holds(graph.condition, None):
            return None
        started = utc_now()
        record = RunRecord(
            root_task_name=graph.name,
            run_id=self.meta.run_id,
            graph_run_group_id=self.meta.group_id,
            attempt_number=self.attempt,
            state=GraphRunState.EXECUTING,
            scheduled_from=self.scheduled_from,
            scheduled_time=self.meta.scheduled_time,
            query_start_time=started,
            completed_time=None,
            next_scheduled_time=None,
            first_error_task_name=None,
            first_error_code=None,
            first_error_message=None,
            config=self.meta.config,
            graph_version=self.meta.graph_version,
            task_states={},
        )
        self.engine.store.start_run(record)
        try:
            self._run_tasks(started)
        except Exception as exc:  # never leave the run EXECUTING: it ends FAILED with the engine's error
            self._abandon_running()
            self.first_error = (
                graph.name,
                TASK_ERROR_CODE,
                f"the simulator's engine failed: {_describe(exc)}",
            )
            self._finalise(record, failed=True)
        else:
            self._finalise(record, failed=False)
        return record

    def _run_tasks(self, started: datetime) -> None:
        graph = self.meta.graph
        self.states[ROOT] = TaskState.SUCCEEDED
        if self.attempt == 1:
            self._row(ROOT, None, TaskState.SUCCEEDED, None, None, started, utc_now())
            # tasks read TASK_HISTORY: the root's row is there before any of them starts (none holds the lock yet)
            if self.engine.store.append_history(self._rows, wait=True):
                self._rows = []
        for name, task in graph.tasks.items():
            if not task.is_finalizer:
                self.states[name] = TaskState.SCHEDULED
        self._resolved.append(ROOT)
        self._drive()
        self._cancels_seen = (
            self._cancel_requests()
        )  # requests that found nothing to stop; the finalizer runs
        if graph.finalizer is not None:
            # the finalizer reads TASK_HISTORY for the run's failures: every other task's row is there first
            if self.engine.store.append_history(self._rows, wait=True):
                self._rows = []
            self.states[graph.finalizer] = TaskState.SCHEDULED
            self._start(graph.finalizer)
            self._drive()

    def _finalise(self, record: RunRecord, *, failed: bool) -> None:
        states = {n: s for n, s in self.states.items() if n != ROOT}
        record.state = (
            GraphRunState.FAILED
            if failed or TaskState.FAILED in states.values()
            else GraphRunState.CANCELLED
            if self.cancelled or TaskState.CANCELLED in states.values()
            else GraphRunState.SUCCEEDED
        )
        record.completed_time = utc_now()
        record.task_states = states
        if self.first_error:
            record.first_error_task_name, record.first_error_code, record.first_error_message = (
                self.first_error
            )
        rows, self._rows = self._rows, []
        try:
            self.engine.store.finish_run(record, rows)
        except Exception:
            if not rows:
                raise
            self.engine.store.finish_run(record, [])  # the run's own row matters most: its task rows are lost

    def _abandon_running(self) -> None:
        for name, (scope, _, _) in list(self._running.items()):
            self._abandon(scope)
            self.states[name] = TaskState.FAILED
        self._running.clear()
        for name, state in self.states.items():
            if state is TaskState.SCHEDULED:
                self.states[name] = TaskState.NOT_EXECUTED

    def _drive(self) -> None:
        """Consider what became runnable, start what fits, and wait for completions or deadlines."""
        while True:
            if self._cancel_requests() > self._cancels_seen:
                self._cancel()
                return
            while self._resolved:
                for child in self.meta.graph.children.get(self._resolved.popleft(), ()):
                    self._waiting[child] -= 1
                    if self._waiting[child] == 0:
                        self._consider(child)
            if self._ready and self._rows:
                self._flush()  # tasks about to start see their predecessors' rows (when the account is free)
            while self._ready and len(self._running) < self.engine.max_workers:
                self._start(self._ready.popleft())
            if not self._running:
                return
            deadline = min(d for _, d, _ in self._running.values())
            if self._rows:  # wake up to persist finished tasks even while a long task keeps running
                deadline = min(deadline, self._flushed_at + _FLUSH_SECONDS)
            try:
                completion = self._completions.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._expire()
                completion = None
            if completion is not None:
                name, scope = completion.name, completion.scope
                if scope.abandoned:
                    pass
                elif completion.ended > self._running[name][1]:  # done, but too late: a timeout all the same
                    self._time_out(name, completion.log)
                else:
                    del self._running[name]
                    error = completion.error
                    if error is None:
                        self.values[name] = scope.value
                    state = TaskState.SUCCEEDED if error is None else TaskState.FAILED
                    self._finish(
                        name,
                        state,
                        scope.value,
                        error,
                        TASK_ERROR_CODE,
                        completion.start,
                        completion.end,
                        traceback_text=completion.traceback,
                        log=completion.log,
                    )
            if time.monotonic() - self._flushed_at >= _FLUSH_SECONDS:
                self._flush()

    def _cancel(self) -> None:
        """Running tasks end CANCELLED (their threads abandoned); pending ones will not run."""
        self._cancels_seen = self._cancel_requests()
        now = utc_now()
        for name, (scope, _, started) in list(self._running.items()):
            del self._running[name]
            self._abandon(scope)
            message = (
                f"Task {self.meta.graph.tasks[name].full_name} was cancelled by "
                "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS"
            )
            self._finish(name, TaskState.CANCELLED, None, message, CANCEL_ERROR_CODE, started, now)
            self.cancelled = True
        for name, state in self.states.items():
            if state is TaskState.SCHEDULED:
                self.states[name] = self.carried[name][0] if name in self.carried else TaskState.NOT_EXECUTED
                self.cancelled = True
        self._ready.clear()
        self._resolved.clear()

    def _consider(self, name: str) -> None:
        task = self.meta.graph.tasks[name]
        if name in self.carried:
            state, _ = self.carried[name]
            self.states[name] = state
            self._resolved.append(name)
            return
        condition = task.condition
        try:
            if condition is not None and condition.replaces_default_rule:
                runs = self._holds(condition, task)
                self._decide(name, runs, TaskState.SKIPPED)
            elif any(self.states[p] is not TaskState.SUCCEEDED for p in task.parents):
                self._decide(name, False, TaskState.NOT_EXECUTED)
            else:
                self._decide(name, condition is None or self._holds(condition, task), TaskState.SKIPPED)
        except Exception as exc:  # a WHEN that cannot be evaluated fails its task, as a runtime error would
            now = utc_now()
            self._finish(name, TaskState.FAILED, None, _describe(exc), TASK_ERROR_CODE, now, now)

    def _decide(self, name: str, runs: bool, otherwise: TaskState) -> None:
        if runs:
            self._ready.append(name)
        elif otherwise is TaskState.SKIPPED:
            now = utc_now()
            self._finish(name, TaskState.SKIPPED, None, None, None, now, now)
        else:
            self.states[name] = otherwise
            self._resolved.append(name)

    def _scope(self, task: TaskDef | None) -> TaskScope:
        return TaskScope(
            self.meta, task, states=self.states, values=self.values, cancel_graph=self.engine.cancel_graph
        )

    def _holds(self, condition: Condition, task: TaskDef | None) -> bool:
        return condition.holds(self._scope(task))

    def _start(self, name: str) -> None:
        task = self.meta.graph.tasks[name]
        scope = self._scope(task)
        timeout_ms = task.timeout_ms or self.meta.graph.user_task_timeout_ms or DEFAULT_TIMEOUT_MS
        self.states[name] = TaskState.EXECUTING
        self._running[name] = (scope, time.monotonic() + timeout_ms / 1000, utc_now())
        threading.Thread(
            target=self._work, args=(task, scope), name=f"task {task.full_name}", daemon=True
        ).start()

    def _work(self, task: TaskDef, scope: TaskScope) -> None:
        start = utc_now()
        error: str | None = None
        trace: str | None = None
        engine = self.engine
        with captured_output() as output, engine.account.interruptible() as thread_id:
            scope.thread_id = thread_id
            try:
                if scope.abandoned:  # timed out before it began: interrupt() may have missed this thread
                    return
                from adapters.simulator.sql.scripting import is_block
                from adapters.simulator.sql.session import task_session

                functions = SystemFunctions(scope, engine.notifier, engine.task_graphs)
                with task_session(engine.account, functions) as handle:
                    self._sessions[id(scope)] = handle
                    if scope.abandoned:  # abandoned before its handle was registered: _abandon missed it
                        return
                    session: Any = (
                        handle.session
                        if engine.session_factory is None
                        else engine.session_factory(handle.session)
                    )
                    bind_active(session, scope.run_id)
                    body = task.body
                    if isinstance(body, PythonBody):
                        body.func(session, *body.args)
                    elif isinstance(body, SqlBody) and is_block(body.text):
                        # a Snowflake Scripting block is one statement, as a task definition is on Snowflake
                        with handle.session.connection.cursor() as cursor:
                            cursor.execute(body.text)
                    elif isinstance(body, SqlBody):
                        # the connector splits the text into statements as Snowflake's clients do
                        for cursor in handle.session.connection.execute_string(body.text):
                            cursor.close()
                    else:
                        engine.run_job(body, handle, task)
            except BaseException as exc:  # task code may raise anything; it fails the task, never the engine
                error = _describe(exc)
                trace = bounded(traceback.format_exc(), MAX_TRACEBACK_CHARS)
            finally:
                bind_active(None)
                self._sessions.pop(id(scope), None)
        self._completions.put(
            _Completion(
                task.name, scope, error, trace, output.text or None, start, utc_now(), time.monotonic()
            )
        )

    def _expire(self) -> None:
        now = time.monotonic()
        for name, (_, deadline, _) in list(self._running.items()):
            if deadline <= now:
                self._time_out(name)

    def _time_out(self, name: str, log: str | None = None) -> None:
        scope, _, started = self._running.pop(name)
        self._abandon(scope)
        task = self.meta.graph.tasks[name]
        limit = task.timeout_ms or self.meta.graph.user_task_timeout_ms or DEFAULT_TIMEOUT_MS
        message = f"Task {task.full_name} timed out after {limit} ms (USER_TASK_TIMEOUT_MS)"
        self._finish(name, TaskState.FAILED, None, message, TIMEOUT_ERROR_CODE, started, utc_now(), log=log)

    def _abandon(self, scope: TaskScope) -> None:
        """Ignore the task's thread from now on, and stop its DuckDB work and its ML Jobs (set first: see
        ``_work``) — a timed-out or cancelled task's job must not train on in the background."""
        scope.abandoned = True
        if scope.thread_id is not None:
            self.engine.account.interrupt(scope.thread_id)
            if self.engine.job_runner is not None:
                self.engine.job_runner.cancel_submitted_by(scope.thread_id)
        if (handle := self._sessions.get(id(scope))) is not None:  # its statements run on the SQL server
            handle.interrupt()

    def _finish(
        self,
        name: str,
        state: TaskState,
        value: str | None,
        error: str | None,
        code: int | None,
        start: datetime,
        end: datetime,
        *,
        traceback_text: str | None = None,
        log: str | None = None,
    ) -> None:
        self.states[name] = state
        if state is TaskState.FAILED and self.first_error is None:
            self.first_error = (self.meta.graph.tasks[name].full_name, code or TASK_ERROR_CODE, error or "")
        self._row(name, value, state, error, code if error else None, start, end, traceback_text, log)
        if not self.meta.graph.tasks[name].is_finalizer:
            self._resolved.append(name)

    def _row(
        self,
        name: str,
        value: str | None,
        state: TaskState,
        error: str | None,
        code: int | None,
        start: datetime,
        end: datetime,
        traceback_text: str | None = None,
        log: str | None = None,
    ) -> None:
        graph = self.meta.graph
        task = graph.tasks.get(name)
        self._rows.append(
            TaskHistoryRecord(
                name=task.full_name if task else graph.name,
                root_task_name=graph.name,
                run_id=self.meta.run_id,
                graph_run_group_id=self.meta.group_id,
                attempt_number=self.attempt,
                state=state,
                return_value=value,
                error_code=code,
                error_message=error,
                condition_text=(task.condition.text if task and task.condition else None),
                scheduled_time=self.meta.scheduled_time,
                query_start_time=start,
                completed_time=end,
                scheduled_from=self.scheduled_from,
                graph_version=self.meta.graph_version,
                error_traceback=traceback_text,
                log_text=log,
            )
        )

    def _flush(self) -> None:
        # Without waiting: a task's statement may hold the account lock, and deadlines must still be kept.
        if self.engine.store.append_history(self._rows, wait=False):
            self._rows = []
        self._flushed_at = time.monotonic()


@dataclass(frozen=True)
class _Completion:
    """A task thread's end: its error, traceback and captured output; ``ended`` is the monotonic clock."""

    name: str
    scope: TaskScope
    error: str | None
    traceback: str | None
    log: str | None
    start: datetime
    end: datetime
    ended: float


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
