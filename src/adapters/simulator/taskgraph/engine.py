"""The run loop: one graph run group — its attempts, automatic retries, tasks in threads — with Snowflake's rules.

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

Cancelling (``SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS``, via ``LiveRun.cancel``): every EXECUTING task of
the attempt ends CANCELLED and its thread is abandoned as a timed-out task's is; tasks not yet started become
NOT_EXECUTED (carried ones keep their state) and nothing new starts. The finalizer still runs — a cancel that
arrives while it runs cancels it too, as it is then the ongoing execution. The attempt ends FAILED if a task
failed, else CANCELLED, and no automatic retry follows; RETRY LAST may re-run it.

An unexpected error inside an attempt (the store failing, say) ends the attempt FAILED with that error;
its still-running tasks are abandoned like timed-out ones.

Retries: a FAILED attempt is followed, while ``attempt <= task_auto_retry_attempts``, by a new attempt of
the same run group (``AUTOMATIC RETRY``) that keeps SUCCEEDED and SKIPPED tasks (with their return values,
without new rows) and re-runs FAILED and CANCELLED tasks, re-evaluating NOT_EXECUTED ones.

Times: scheduled times come from the injected clock (so schedules are testable); execution times
(``QUERY_START_TIME``, ``COMPLETED_TIME``) are the wall clock.
"""

from __future__ import annotations

import inspect
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.simulator.home import LocalAccount
from adapters.simulator.taskgraph.bridge import session_bridge
from adapters.simulator.taskgraph.conditions import Condition
from adapters.simulator.taskgraph.model import ROOT, GraphDef, JobBody, PythonBody, SqlBody, TaskDef
from adapters.simulator.taskgraph.session import SessionFactory, SimSession, bind_active
from adapters.simulator.taskgraph.sql import run_sql
from adapters.simulator.taskgraph.store import GraphStore, RunRecord, TaskHistoryRecord
from domain.errors import InvalidConfig, InvalidData, NotFound, Unsupported
from domain.graph import MAX_RETURN_VALUE_BYTES
from domain.ports import Notifier

DEFAULT_TIMEOUT_MS = 3_600_000
TASK_ERROR_CODE = 100132  # Snowflake's code for an error raised by procedure code
TIMEOUT_ERROR_CODE = 630  # "Statement reached its statement or warehouse timeout"
CANCEL_ERROR_CODE = 604  # "SQL execution canceled"
_FLUSH_SECONDS = (
    0.05  # task rows reach the store at least this often: a crash loses at most this much history
)
_CARRIED = frozenset({"SUCCEEDED", "SKIPPED"})


@dataclass
class RunMeta:
    """What stays the same for every attempt of one run group."""

    graph: GraphDef
    graph_version: int
    root_uuid: str
    run_id: int
    group_id: str
    scheduled_time: datetime
    config: dict[str, Any]
    last_successful: tuple[datetime, str] | None


@dataclass
class LiveRun:
    """An in-flight run group, observable while it progresses (the CLI shows task states live)."""

    meta: RunMeta
    attempt: int = 1
    states: dict[str, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    record: RunRecord | None = None
    values: dict[str, str | None] = field(default_factory=dict)
    skipped: bool = False
    error: BaseException | None = None
    queued: bool = False  # NO_OVERLAP: waiting for the executing run to end; a later EXECUTE replaces it
    dropped: bool = False  # cancelled while queued: it never starts and has no graph-run row
    cancel_requests: int = 0  # each request cancels what is executing when the attempt sees it
    wake: Callable[[], None] | None = None  # set by the running attempt: its loop sees a request at once

    def cancel(self) -> None:
        """Ask the run to cancel its executing tasks; returns at once (a task may cancel its own graph)."""
        self.cancel_requests += 1
        if self.wake is not None:
            self.wake()


def utcnow() -> datetime:
    return datetime.now(UTC)


class TaskScope:
    """The runtime of one task execution: what its session's ``SYSTEM$`` calls and its WHEN see."""

    def __init__(self, attempt: _Attempt, task: TaskDef | None) -> None:
        self._attempt = attempt
        self._task = task
        self.full_name = task.full_name if task else attempt.meta.graph.name
        self.value: str | None = None
        self.abandoned = False
        self.thread_id: int | None = None

    @property
    def _short(self) -> str:
        return self._task.name if self._task else ROOT

    def set_return_value(self, value: str) -> None:
        size = len(value.encode("utf-8"))
        if size > MAX_RETURN_VALUE_BYTES:
            raise InvalidData(
                f"return value of task {self.full_name} is {size} bytes; SYSTEM$SET_RETURN_VALUE accepts at "
                f"most {MAX_RETURN_VALUE_BYTES} bytes (10 kB) of UTF-8 — store bulky results and return a reference"
            )
        self.value = value

    def predecessor_return_value(self, name: str | None) -> str | None:
        graph = self._attempt.meta.graph
        parents = [p for p in (self._task.parents if self._task else ()) if p != ROOT]
        if name is None:
            if len(parents) != 1:
                raise InvalidConfig(
                    f"SYSTEM$GET_PREDECESSOR_RETURN_VALUE() without a name needs exactly one predecessor; task "
                    f"{self.full_name} has {sorted(graph.tasks[p].full_name for p in parents) or 'none'}"
                )
            return self._attempt.values.get(parents[0])
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
        return self._attempt.values.get(short)

    def predecessor_states(self) -> Sequence[str]:
        return [self._attempt.states[p] for p in (self._task.parents if self._task else ())]

    def task_completion_state(self, name: str) -> str:
        graph = self._attempt.meta.graph
        short = ROOT if name == graph.name else graph.by_full_name.get(name)
        if short is None:
            raise NotFound(f"SYSTEM$TASK_COMPLETION_STATE({name!r}): no such task in graph {graph.name}")
        return self._attempt.states.get(short, "NOT_EXECUTED")

    def graph_config(self) -> dict[str, Any]:
        return self._attempt.meta.config

    def cancel_graph(self, name: str) -> list[int]:
        return self._attempt.engine.cancel_graph(name)

    def runtime_info(self, prop: str) -> str | None:
        meta = self._attempt.meta
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


class Engine:
    def __init__(
        self,
        account: LocalAccount,
        store: GraphStore,
        *,
        notifier: Notifier | None,
        job_runner: Any,
        session_factory: SessionFactory | None,
        max_workers: int,
        cancel_graph: Callable[[str], list[int]],
    ) -> None:
        self.account = account
        self.store = store
        self.notifier = notifier
        self.job_runner = job_runner
        self.session_factory = session_factory
        self.max_workers = max_workers
        self.cancel_graph = cancel_graph  # SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS from task SQL

    def run_group(
        self,
        live: LiveRun,
        *,
        attempt: int,
        scheduled_from: str,
        carried: dict[str, tuple[str, str | None]],
    ) -> None:
        """Run attempts until one does not fail or the automatic retries are spent; results land in ``live``."""
        meta = live.meta
        while True:
            live.attempt = attempt
            record = _Attempt(self, live, attempt, scheduled_from, carried).run()
            if record is None:
                live.skipped = True
                return
            live.record = record
            if (
                record.state != "FAILED"
                or attempt > meta.graph.task_auto_retry_attempts
                or live.cancel_requests
            ):
                return
            carried = {n: (s, live.values.get(n)) for n, s in record.task_states.items() if s in _CARRIED}
            attempt += 1
            scheduled_from = "AUTOMATIC RETRY"

    def run_job(self, body: JobBody, session: Any, task: TaskDef) -> None:
        if self.job_runner is None:
            raise Unsupported(
                f"task {task.full_name} is an ML Job definition; pass job_runner=... (with submit_function and "
                "function_result) to LocalDAGOperation to run it"
            )
        # A function with a parameter gets the task's session — through a bridge, as the job runs in its own
        # processes — so TaskContext works inside the job as it does in Snowflake.
        with session_bridge(session) as remote:
            args = (remote,) if inspect.signature(body.func).parameters else ()
            job = self.job_runner.submit_function(
                body.func,
                args=args,
                compute_pool=body.compute_pool,
                target_instances=body.target_instances,
                min_instances=body.min_instances,
                name=body.name,
            )
            self.job_runner.function_result(job)


class _Attempt:
    """One graph-run attempt: the scheduling loop and its bookkeeping."""

    def __init__(
        self,
        engine: Engine,
        live: LiveRun,
        attempt: int,
        scheduled_from: str,
        carried: dict[str, tuple[str, str | None]],
    ) -> None:
        self.engine = engine
        self.live = live
        self.meta = live.meta
        self.attempt = attempt
        self.scheduled_from = scheduled_from
        self.carried = carried
        self.states: dict[str, str] = {}
        self.values: dict[str, str | None] = {n: v for n, (s, v) in carried.items() if s == "SUCCEEDED"}
        self.first_error: tuple[str, int, str] | None = None
        self.cancelled = False  # a cancel request stopped something: the attempt ends CANCELLED unless FAILED
        self._cancels_seen = 0
        self._rows: list[TaskHistoryRecord] = []
        self._flushed_at = time.monotonic()
        # None is a wake-up: a cancel request arrived
        self._completions: queue.SimpleQueue[
            tuple[str, TaskScope, str | None, datetime, datetime, float] | None
        ] = queue.SimpleQueue()
        self._running: dict[str, tuple[TaskScope, float, datetime]] = {}
        self._ready: deque[str] = deque()
        self._resolved: deque[str] = deque()
        graph = self.meta.graph
        self._waiting = {n: len(t.parents) for n, t in graph.tasks.items() if not t.is_finalizer}

    # the attempt --------------------------------------------------------------------------------------------

    def run(self) -> RunRecord | None:
        graph = self.meta.graph
        if self.attempt == 1 and graph.condition is not None and not self._holds(graph.condition, None):
            return None
        started = utcnow()
        record = RunRecord(
            root_task_name=graph.name,
            run_id=self.meta.run_id,
            graph_run_group_id=self.meta.group_id,
            attempt_number=self.attempt,
            state="EXECUTING",
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
        self.live.states = self.states
        self.live.values = self.values
        self.live.wake = lambda: self._completions.put(None)
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
        self.states[ROOT] = "SUCCEEDED"
        if self.attempt == 1:
            self._row(ROOT, None, "SUCCEEDED", None, None, started, utcnow())
        for name, task in graph.tasks.items():
            if not task.is_finalizer:
                self.states[name] = "SCHEDULED"
        self._resolved.append(ROOT)
        self._drive()
        self._cancels_seen = (
            self.live.cancel_requests
        )  # requests that found nothing to stop; the finalizer runs
        if graph.finalizer is not None:
            self.states[graph.finalizer] = "SCHEDULED"
            self._start(graph.finalizer)
            self._drive()

    def _finalise(self, record: RunRecord, *, failed: bool) -> None:
        states = {n: s for n, s in self.states.items() if n != ROOT}
        record.state = (
            "FAILED"
            if failed or "FAILED" in states.values()
            else "CANCELLED"
            if self.cancelled or "CANCELLED" in states.values()
            else "SUCCEEDED"
        )
        record.completed_time = utcnow()
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
            self.states[name] = "FAILED"
        self._running.clear()
        for name, state in self.states.items():
            if state == "SCHEDULED":
                self.states[name] = "NOT_EXECUTED"

    def _drive(self) -> None:
        """Consider what became runnable, start what fits, and wait for completions or deadlines."""
        while True:
            if self.live.cancel_requests > self._cancels_seen:
                self._cancel()
                return
            while self._resolved:
                for child in self.meta.graph.children.get(self._resolved.popleft(), ()):
                    self._waiting[child] -= 1
                    if self._waiting[child] == 0:
                        self._consider(child)
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
                name, scope, error, start, end, ended = completion
                if scope.abandoned:
                    pass
                elif ended > self._running[name][1]:  # done, but too late: a timeout all the same
                    self._time_out(name)
                else:
                    del self._running[name]
                    if error is None:
                        self.values[name] = scope.value
                    state = "SUCCEEDED" if error is None else "FAILED"
                    self._finish(name, state, scope.value, error, TASK_ERROR_CODE, start, end)
            if time.monotonic() - self._flushed_at >= _FLUSH_SECONDS:
                self._flush()

    def _cancel(self) -> None:
        """Running tasks end CANCELLED (their threads abandoned); pending ones will not run."""
        self._cancels_seen = self.live.cancel_requests
        now = utcnow()
        for name, (scope, _, started) in list(self._running.items()):
            del self._running[name]
            self._abandon(scope)
            message = (
                f"Task {self.meta.graph.tasks[name].full_name} was cancelled by "
                "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS"
            )
            self._finish(name, "CANCELLED", None, message, CANCEL_ERROR_CODE, started, now)
            self.cancelled = True
        for name, state in self.states.items():
            if state == "SCHEDULED":
                self.states[name] = self.carried[name][0] if name in self.carried else "NOT_EXECUTED"
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
                self._decide(name, runs, "SKIPPED")
            elif any(self.states[p] != "SUCCEEDED" for p in task.parents):
                self._decide(name, False, "NOT_EXECUTED")
            else:
                self._decide(name, condition is None or self._holds(condition, task), "SKIPPED")
        except Exception as exc:  # a WHEN that cannot be evaluated fails its task, as a runtime error would
            now = utcnow()
            self._finish(name, "FAILED", None, _describe(exc), TASK_ERROR_CODE, now, now)

    def _decide(self, name: str, runs: bool, otherwise: str) -> None:
        if runs:
            self._ready.append(name)
        elif otherwise == "SKIPPED":
            now = utcnow()
            self._finish(name, "SKIPPED", None, None, None, now, now)
        else:
            self.states[name] = otherwise
            self._resolved.append(name)

    def _holds(self, condition: Condition, task: TaskDef | None) -> bool:
        return condition.holds(TaskScope(self, task))

    def _start(self, name: str) -> None:
        task = self.meta.graph.tasks[name]
        scope = TaskScope(self, task)
        timeout_ms = task.timeout_ms or self.meta.graph.user_task_timeout_ms or DEFAULT_TIMEOUT_MS
        self.states[name] = "EXECUTING"
        self._running[name] = (scope, time.monotonic() + timeout_ms / 1000, utcnow())
        threading.Thread(
            target=self._work, args=(task, scope), name=f"task {task.full_name}", daemon=True
        ).start()

    def _work(self, task: TaskDef, scope: TaskScope) -> None:
        start = utcnow()
        error: str | None = None
        engine = self.engine
        with engine.account.interruptible() as thread_id:
            scope.thread_id = thread_id
            try:
                if scope.abandoned:  # timed out before it began: interrupt() may have missed this thread
                    return
                base = SimSession(engine.account, scope, engine.notifier)
                session: Any = base if engine.session_factory is None else engine.session_factory(base)
                bind_active(session)
                body = task.body
                if isinstance(body, PythonBody):
                    body.func(session, *body.args)
                elif isinstance(body, SqlBody):
                    run_sql(body.text, base.functions, engine.account)
                else:
                    engine.run_job(body, session, task)
            except BaseException as exc:  # task code may raise anything; it fails the task, never the engine
                error = _describe(exc)
            finally:
                bind_active(None)
        self._completions.put((task.name, scope, error, start, utcnow(), time.monotonic()))

    def _expire(self) -> None:
        now = time.monotonic()
        for name, (_, deadline, _) in list(self._running.items()):
            if deadline <= now:
                self._time_out(name)

    def _time_out(self, name: str) -> None:
        scope, _, started = self._running.pop(name)
        self._abandon(scope)
        task = self.meta.graph.tasks[name]
        limit = task.timeout_ms or self.meta.graph.user_task_timeout_ms or DEFAULT_TIMEOUT_MS
        message = f"Task {task.full_name} timed out after {limit} ms (USER_TASK_TIMEOUT_MS)"
        self._finish(name, "FAILED", None, message, TIMEOUT_ERROR_CODE, started, utcnow())

    def _abandon(self, scope: TaskScope) -> None:
        """Ignore the task's thread from now on, and stop its DuckDB work (set first: see ``_work``)."""
        scope.abandoned = True
        if scope.thread_id is not None:
            self.engine.account.interrupt(scope.thread_id)

    def _finish(
        self,
        name: str,
        state: str,
        value: str | None,
        error: str | None,
        code: int | None,
        start: datetime,
        end: datetime,
    ) -> None:
        self.states[name] = state
        if state == "FAILED" and self.first_error is None:
            self.first_error = (self.meta.graph.tasks[name].full_name, code or TASK_ERROR_CODE, error or "")
        self._row(name, value, state, error, code if error else None, start, end)
        if not self.meta.graph.tasks[name].is_finalizer:
            self._resolved.append(name)

    def _row(
        self,
        name: str,
        value: str | None,
        state: str,
        error: str | None,
        code: int | None,
        start: datetime,
        end: datetime,
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
            )
        )

    def _flush(self) -> None:
        # Without waiting: a task's statement may hold the account lock, and deadlines must still be kept.
        if self.engine.store.append_history(self._rows, wait=False):
            self._rows = []
        self._flushed_at = time.monotonic()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


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
