"""Durable task-graph state and history in the home's DuckDB, shaped like Snowflake's views.

Tables (all ``TG_*``): ``TG_GRAPHS`` (deployed graphs: state, schedule, structure, failure counter),
``TG_LEFTOVER_TASKS`` (finalizers that ``drop`` kept, as dagv1 does), ``TG_GRAPH_RUNS`` (one row per graph-run
attempt, like ``COMPLETE_TASK_GRAPHS`` plus ``TASK_STATES``), ``TG_TASK_HISTORY`` (one row per task run, like
``TASK_HISTORY``, plus each task's traceback and captured output, bounded by ``capture``, which Snowflake keeps
in its event table instead, so the ``TASK_HISTORY`` view leaves them out). Views ``COMPLETE_TASK_GRAPHS`` and ``TASK_HISTORY`` expose them to SQL inside tasks.

States and origins are ``GraphRunState``/``TaskState``/``ScheduledFrom`` in the records and their string values in the tables (this module is
the boundary). Times are stored as naive UTC ``TIMESTAMP`` and returned time-zone aware (UTC). Task rows are written in
batches through Arrow, so a 1000-task graph costs a few statements, not a thousand commits. DuckDB errors are
translated in ``_cursor``, by the account's table as the engine's own state (``ENGINE_STATE``).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import duckdb
import pyarrow as pa

from adapters.simulator.account.clock import HISTORY_RETENTION
from adapters.simulator.account.errors import ENGINE_STATE, translated
from adapters.simulator.account.home import LocalAccount
from domain.errors import InvalidConfig
from domain.graph import GraphRunState, ScheduledFrom, TaskState

CRASH_MESSAGE = "the simulator process running this graph ended unexpectedly"
CRASH_CODE = 3000

_DDL = """
create table if not exists TG_GRAPHS (
    NAME varchar primary key, DISPLAY_NAME varchar, STATE varchar, STRUCTURE varchar, CONFIG varchar,
    SCHEDULE varchar, OVERLAP_POLICY varchar, TASK_AUTO_RETRY_ATTEMPTS integer, SUSPEND_AFTER integer,
    GRAPH_VERSION integer, ROOT_UUID varchar, CREATED_ON timestamp, SCHEDULE_BASE timestamp,
    NEXT_DUE timestamp, CONSECUTIVE_FAILURES integer, LAST_SUSPENDED_REASON varchar);
create table if not exists TG_LEFTOVER_TASKS (FULL_NAME varchar primary key, ROOT_TASK_NAME varchar);
create table if not exists TG_GRAPH_RUNS (
    ROOT_TASK_NAME varchar, RUN_ID bigint, GRAPH_RUN_GROUP_ID varchar, ATTEMPT_NUMBER integer, STATE varchar,
    SCHEDULED_FROM varchar, SCHEDULED_TIME timestamp, QUERY_START_TIME timestamp, COMPLETED_TIME timestamp,
    NEXT_SCHEDULED_TIME timestamp, FIRST_ERROR_TASK_NAME varchar, FIRST_ERROR_CODE integer,
    FIRST_ERROR_MESSAGE varchar, CONFIG varchar, GRAPH_VERSION integer, TASK_STATES varchar, PID integer,
    OWNER varchar, primary key (GRAPH_RUN_GROUP_ID, ATTEMPT_NUMBER));
alter table TG_GRAPH_RUNS add column if not exists OWNER varchar;
create table if not exists TG_TASK_HISTORY (
    NAME varchar, ROOT_TASK_NAME varchar, RUN_ID bigint, GRAPH_RUN_GROUP_ID varchar, ATTEMPT_NUMBER integer,
    STATE varchar, RETURN_VALUE varchar, ERROR_CODE integer, ERROR_MESSAGE varchar, CONDITION_TEXT varchar,
    SCHEDULED_TIME timestamp, QUERY_START_TIME timestamp, COMPLETED_TIME timestamp, SCHEDULED_FROM varchar,
    GRAPH_VERSION integer);
alter table TG_TASK_HISTORY add column if not exists ERROR_TRACEBACK varchar;
alter table TG_TASK_HISTORY add column if not exists LOG_TEXT varchar;
create or replace view COMPLETE_TASK_GRAPHS as
    select * exclude (TASK_STATES, PID, OWNER) from TG_GRAPH_RUNS where STATE in ('SUCCEEDED', 'FAILED', 'CANCELLED');
create or replace view TASK_HISTORY as select * exclude (ERROR_TRACEBACK, LOG_TEXT) from TG_TASK_HISTORY;
"""


@dataclass
class GraphRecord:
    name: str
    display_name: str
    state: str  # 'started' | 'suspended', as SHOW TASKS reports a root
    structure: dict[str, Any]
    config: dict[str, Any]
    schedule: str | None
    overlap_policy: str
    task_auto_retry_attempts: int
    suspend_after: int
    graph_version: int
    root_uuid: str
    created_on: datetime
    schedule_base: datetime | None = None
    next_due: datetime | None = None
    consecutive_failures: int = 0
    last_suspended_reason: str | None = None


@dataclass
class RunRecord:
    """One graph-run attempt (a ``COMPLETE_TASK_GRAPHS`` row, or an EXECUTING one)."""

    root_task_name: str
    run_id: int
    graph_run_group_id: str
    attempt_number: int
    state: GraphRunState
    scheduled_from: ScheduledFrom
    scheduled_time: datetime
    query_start_time: datetime | None
    completed_time: datetime | None
    next_scheduled_time: datetime | None
    first_error_task_name: str | None
    first_error_code: int | None
    first_error_message: str | None
    config: dict[str, Any]
    graph_version: int
    task_states: dict[str, TaskState]


@dataclass(frozen=True)
class TaskHistoryRecord:
    """One ``TASK_HISTORY`` row; ``name`` is ``<DAG>$<TASK>`` (the root's row is named after the graph)."""

    name: str
    root_task_name: str
    run_id: int
    graph_run_group_id: str
    attempt_number: int
    state: TaskState
    return_value: str | None
    error_code: int | None
    error_message: str | None
    condition_text: str | None
    scheduled_time: datetime
    query_start_time: datetime | None
    completed_time: datetime | None
    scheduled_from: ScheduledFrom
    graph_version: int
    error_traceback: str | None = None
    log_text: str | None = None


_HISTORY_COLUMNS = [f.name for f in fields(TaskHistoryRecord)]
_RUN_COLUMNS = [f.name for f in fields(RunRecord)]
_GRAPH_COLUMNS = [f.name for f in fields(GraphRecord)]


class ProcessToken:
    """Who owns an EXECUTING run: one random token per process (a forked child draws its own).

    Not the pid: a restarted container's process has the same pid (1) as the one that crashed.
    """

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self.value = uuid.uuid4().hex


PROCESS = ProcessToken()

_JSON_FIELDS = {"structure", "config", "task_states"}
_TIME = pa.timestamp("us")


def _arrow_type(column: str) -> pa.DataType:
    if column.endswith("_time"):
        return _TIME
    if column == "run_id":
        return pa.int64()
    if column in {"error_code", "attempt_number", "graph_version"}:
        return pa.int32()
    return pa.string()


_HISTORY_SCHEMA = pa.schema([(c, _arrow_type(c)) for c in _HISTORY_COLUMNS])


def _to_db(value: Any, name: str) -> Any:
    if name in _JSON_FIELDS:
        return json.dumps(value, sort_keys=True)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, StrEnum):
        return value.value
    return value


def _from_db(value: Any, name: str) -> Any:
    if name == "task_states":
        return {n: TaskState(s) for n, s in json.loads(value).items()} if value else {}
    if name in _JSON_FIELDS:
        return json.loads(value) if value else {}
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    return value


class GraphStore:
    def __init__(self, account: LocalAccount, *, retention: timedelta = HISTORY_RETENTION) -> None:
        """``retention``: finished runs (and their task rows) older than this are deleted as each run ends."""
        if retention <= timedelta(0):
            raise InvalidConfig(f"task-graph history retention {retention}: must be positive")
        self._account = account
        self.retention = retention
        with self._cursor() as cur:
            cur.execute(_DDL)

    @contextmanager
    def _cursor(self, *, transaction: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with (
            translated(f"task-graph state in {self._account.home} could not be used", ENGINE_STATE),
            self._account.transaction() if transaction else self._account.cursor() as cur,
        ):
            yield cur

    def _rows(self, sql: str, params: Sequence[Any], columns: list[str]) -> list[dict[str, Any]]:
        with self._cursor() as cur:
            rows = cur.execute(sql, list(params)).fetchall()
        return [{c: _from_db(v, c) for c, v in zip(columns, r, strict=True)} for r in rows]

    # graphs -----------------------------------------------------------------------------------------------

    def graph(self, name: str) -> GraphRecord | None:
        rows = self._rows(
            f"select {', '.join(_GRAPH_COLUMNS)} from TG_GRAPHS where NAME = ?", [name], _GRAPH_COLUMNS
        )
        return GraphRecord(**rows[0]) if rows else None

    def graphs(self) -> list[GraphRecord]:
        rows = self._rows(
            f"select {', '.join(_GRAPH_COLUMNS)} from TG_GRAPHS order by NAME", [], _GRAPH_COLUMNS
        )
        return [GraphRecord(**r) for r in rows]

    def put_graph(self, record: GraphRecord, *, replace_tasks: Sequence[str]) -> None:
        """Store a (re)deployed graph; tasks named in ``replace_tasks`` stop being leftovers."""
        values = [_to_db(getattr(record, c), c) for c in _GRAPH_COLUMNS]
        with self._cursor(transaction=True) as cur:
            cur.execute("delete from TG_GRAPHS where NAME = ?", [record.name])
            cur.execute(f"insert into TG_GRAPHS values ({', '.join('?' * len(values))})", values)
            for full_name in replace_tasks:
                cur.execute("delete from TG_LEFTOVER_TASKS where FULL_NAME = ?", [full_name])

    def update_graph(self, name: str, **changes: Any) -> None:
        assignments = ", ".join(f"{c.upper()} = ?" for c in changes)
        values = [_to_db(v, c) for c, v in changes.items()]
        with self._cursor() as cur:
            cur.execute(f"update TG_GRAPHS set {assignments} where NAME = ?", [*values, name])

    def drop_graph(self, name: str, *, keep_task: str | None) -> None:
        with self._cursor(transaction=True) as cur:
            cur.execute("delete from TG_GRAPHS where NAME = ?", [name])
            if keep_task:
                cur.execute("insert or replace into TG_LEFTOVER_TASKS values (?, ?)", [keep_task, name])

    def leftover_tasks(self, full_names: Sequence[str]) -> list[str]:
        if not full_names:
            return []
        with self._cursor() as cur:
            rows = cur.execute(
                "select FULL_NAME from TG_LEFTOVER_TASKS where list_contains(?, FULL_NAME)",
                [list(full_names)],
            ).fetchall()
        return [r[0] for r in rows]

    def like(self, pattern: str) -> list[str]:
        with self._cursor() as cur:
            rows = cur.execute(
                "select NAME from TG_GRAPHS where NAME ilike ? order by NAME", [pattern]
            ).fetchall()
        return [r[0] for r in rows]

    # runs and history -------------------------------------------------------------------------------------

    def start_run(self, run: RunRecord) -> None:
        values = [_to_db(getattr(run, c), c) for c in _RUN_COLUMNS]
        with self._cursor() as cur:
            cur.execute(
                f"insert into TG_GRAPH_RUNS values ({', '.join('?' * (len(values) + 2))})",
                [*values, os.getpid(), PROCESS.value],
            )

    def finish_run(self, run: RunRecord, history: Sequence[TaskHistoryRecord]) -> None:
        """The attempt's final row and its remaining task rows, in one transaction, which also expires the
        history older than the retention before this run's end."""
        changes = {c: _to_db(getattr(run, c), c) for c in _RUN_COLUMNS}
        with self._cursor(transaction=True) as cur:
            self._insert_history(cur, history)
            cur.execute(
                f"update TG_GRAPH_RUNS set {', '.join(f'{c.upper()} = ?' for c in changes)} "
                "where GRAPH_RUN_GROUP_ID = ? and ATTEMPT_NUMBER = ?",
                [*changes.values(), run.graph_run_group_id, run.attempt_number],
            )
            if run.completed_time is not None:
                self._expire(cur, run.completed_time - self.retention)
        if run.completed_time is not None:  # a run's writes leave the log at its end: the home stays bounded
            self._account.checkpoint()

    @staticmethod
    def _expire(cur: duckdb.DuckDBPyConnection, before: datetime) -> None:
        """Delete the runs that ended before ``before`` with their task rows; an executing run keeps all its
        rows, however old (task rows are matched by their run, not their own times)."""
        cutoff = _to_db(before, "before")
        cur.execute(
            "delete from TG_TASK_HISTORY h using TG_GRAPH_RUNS r where h.GRAPH_RUN_GROUP_ID = r.GRAPH_RUN_GROUP_ID "
            "and h.ATTEMPT_NUMBER = r.ATTEMPT_NUMBER and r.STATE <> 'EXECUTING' and r.COMPLETED_TIME < ?",
            [cutoff],
        )
        cur.execute("delete from TG_GRAPH_RUNS where STATE <> 'EXECUTING' and COMPLETED_TIME < ?", [cutoff])

    def append_history(self, history: Sequence[TaskHistoryRecord], *, wait: bool = True) -> bool:
        """Write task rows; with ``wait=False`` only if the account is free now. True when written."""
        if not history:
            return True
        if not self._account.lock.acquire(blocking=wait):
            return False
        try:
            with self._cursor(transaction=True) as cur:
                self._insert_history(cur, history)
        finally:
            self._account.lock.release()
        return True

    @staticmethod
    def _insert_history(cur: duckdb.DuckDBPyConnection, history: Sequence[TaskHistoryRecord]) -> None:
        if not history:
            return
        columns = {c: [_to_db(getattr(h, c), c) for h in history] for c in _HISTORY_COLUMNS}
        batch = pa.table(columns, schema=_HISTORY_SCHEMA)
        cur.register("tg_history_batch", batch)
        try:
            cur.execute("insert into TG_TASK_HISTORY by name select * from tg_history_batch")
        finally:
            cur.unregister("tg_history_batch")

    def mark_state(self, group_id: str, attempt: int, task_full_name: str, state: TaskState) -> None:
        with self._cursor() as cur:
            cur.execute(
                "update TG_TASK_HISTORY set STATE = ? where GRAPH_RUN_GROUP_ID = ? and ATTEMPT_NUMBER = ? "
                "and NAME = ?",
                [state.value, group_id, attempt, task_full_name],
            )

    def runs(
        self,
        name: str,
        *,
        states: Sequence[GraphRunState] | None = None,
        since: datetime | None = None,
        run_id: int | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Attempts of one graph, newest first."""
        where, params = ["ROOT_TASK_NAME = ?"], [name]
        if states is not None:
            where.append("list_contains(?, STATE)")
            params.append([str(s) for s in states])
        if since is not None:
            where.append("coalesce(COMPLETED_TIME, QUERY_START_TIME) >= ?")
            params.append(_to_db(since, "since"))
        if run_id is not None:
            where.append("RUN_ID = ?")
            params.append(run_id)
        sql = (
            f"select {', '.join(_RUN_COLUMNS)} from TG_GRAPH_RUNS where {' and '.join(where)} "
            "order by QUERY_START_TIME desc, ATTEMPT_NUMBER desc"
        )
        if limit is not None:
            sql += f" limit {int(limit)}"
        return [
            RunRecord(
                **{
                    **r,
                    "state": GraphRunState(r["state"]),
                    "scheduled_from": ScheduledFrom(r["scheduled_from"]),
                }
            )
            for r in self._rows(sql, params, _RUN_COLUMNS)
        ]

    def history(
        self, name: str | None, *, run_id: int | None = None, group_id: str | None = None
    ) -> list[TaskHistoryRecord]:
        """Task rows of one graph (``name``), or of every graph ever run here (None), oldest first."""
        where: list[str] = ["true"]
        params: list[Any] = []
        if name is not None:
            where.append("ROOT_TASK_NAME = ?")
            params.append(name)
        if run_id is not None:
            where.append("RUN_ID = ?")
            params.append(run_id)
        if group_id is not None:
            where.append("GRAPH_RUN_GROUP_ID = ?")
            params.append(group_id)
        sql = (
            f"select {', '.join(_HISTORY_COLUMNS)} from TG_TASK_HISTORY where {' and '.join(where)} "
            "order by QUERY_START_TIME, ATTEMPT_NUMBER, NAME"
        )
        return [
            TaskHistoryRecord(
                **{**r, "state": TaskState(r["state"]), "scheduled_from": ScheduledFrom(r["scheduled_from"])}
            )
            for r in self._rows(sql, params, _HISTORY_COLUMNS)
        ]

    def recover_abandoned(self, now: datetime) -> list[RunRecord]:
        """Runs left EXECUTING by a process that is gone become FAILED; returns them, as they now are.

        DuckDB lets one process open a home file, so an EXECUTING run owned by another process (its token
        differs, whatever its pid) belongs to a process that ended without finishing it (kill -9, power loss).
        """
        with self._cursor() as cur:
            keys = cur.execute(
                "update TG_GRAPH_RUNS set STATE = 'FAILED', COMPLETED_TIME = ?, "
                "FIRST_ERROR_TASK_NAME = coalesce(FIRST_ERROR_TASK_NAME, ROOT_TASK_NAME), "
                "FIRST_ERROR_CODE = coalesce(FIRST_ERROR_CODE, ?), "
                "FIRST_ERROR_MESSAGE = coalesce(FIRST_ERROR_MESSAGE, ?) "
                "where STATE = 'EXECUTING' and OWNER is distinct from ? "
                "returning ROOT_TASK_NAME, GRAPH_RUN_GROUP_ID, ATTEMPT_NUMBER",
                [_to_db(now, "now"), CRASH_CODE, CRASH_MESSAGE, PROCESS.value],
            ).fetchall()
        return [
            r
            for name in sorted({k[0] for k in keys})
            for r in self.runs(name, states=[GraphRunState.FAILED])
            if (r.root_task_name, r.graph_run_group_id, r.attempt_number) in set(keys)
        ]
