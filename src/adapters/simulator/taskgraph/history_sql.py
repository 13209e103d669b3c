"""The read side of Snowflake's Task Graph SQL over the engine's store, for the SQL layer to serve.

``task_history`` is ``TABLE(INFORMATION_SCHEMA.TASK_HISTORY(...))`` with its documented arguments and columns
(https://docs.snowflake.com/en/sql-reference/functions/task_history): all arguments optional; RESULT_LIMIT
1..10000, default 100, keeping the most recent runs; TASK_NAME case-insensitive and unqualified; ERROR_ONLY
keeps failed and cancelled runs; ROOT_TASK_ID is the root's id (SHOW TASKS ``id``, the graph's root UUID here);
SCHEDULED_TIME_RANGE_START must lie within the last 7 days. Rows are dicts keyed by the documented column names,
newest first. Columns the simulator has no value for (QUERY_ID, QUERY_HASH…) are NULL, as for a run that has not
started; the QUERY_HASH family and BACKFILL_INFO are left out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters.simulator.taskgraph.operation import DATABASE, SCHEMA
from adapters.simulator.taskgraph.store import GraphStore
from domain.errors import InvalidConfig
from domain.graph import TaskState

HISTORY_RETENTION = timedelta(days=7)
MAX_RESULT_LIMIT = 10_000
_ERROR_STATES = {TaskState.FAILED, TaskState.CANCELLED, TaskState.FAILED_AND_AUTO_SUSPENDED}
TASK_HISTORY_COLUMNS = (
    "QUERY_ID",
    "NAME",
    "DATABASE_NAME",
    "SCHEMA_NAME",
    "QUERY_TEXT",
    "CONDITION_TEXT",
    "STATE",
    "ERROR_CODE",
    "ERROR_MESSAGE",
    "SCHEDULED_TIME",
    "QUERY_START_TIME",
    "NEXT_SCHEDULED_TIME",
    "COMPLETED_TIME",
    "ROOT_TASK_ID",
    "GRAPH_VERSION",
    "RUN_ID",
    "RETURN_VALUE",
    "SCHEDULED_FROM",
    "ATTEMPT_NUMBER",
    "GRAPH_RUN_GROUP_ID",
)


def task_history(
    store: GraphStore,
    now: datetime,
    *,
    scheduled_time_range_start: datetime | None = None,
    scheduled_time_range_end: datetime | None = None,
    result_limit: int = 100,
    task_name: str | None = None,
    error_only: bool = False,
    root_task_id: str | None = None,
) -> list[dict[str, Any]]:
    """``INFORMATION_SCHEMA.TASK_HISTORY(...)`` rows, newest first; bad arguments raise ``InvalidConfig``."""
    if isinstance(result_limit, bool) or not isinstance(result_limit, int):
        raise InvalidConfig(f"RESULT_LIMIT => {result_limit!r}: expected an integer 1..{MAX_RESULT_LIMIT}")
    if not 1 <= result_limit <= MAX_RESULT_LIMIT:
        raise InvalidConfig(f"RESULT_LIMIT => {result_limit}: must be 1..{MAX_RESULT_LIMIT}")
    if scheduled_time_range_start is not None and scheduled_time_range_start < now - HISTORY_RETENTION:
        raise InvalidConfig(
            f"SCHEDULED_TIME_RANGE_START => {scheduled_time_range_start.isoformat()}: the time range must be "
            "within the last 7 days"
        )
    roots = {g.name: g.root_uuid for g in store.graphs()}
    wanted = task_name.upper() if task_name is not None else None
    rows = []
    for r in store.history(None):
        short = r.name.split("$", 1)[-1]
        if wanted is not None and wanted not in {r.name.upper(), short.upper()}:
            continue
        if error_only and r.state not in _ERROR_STATES:
            continue
        if root_task_id is not None and roots.get(r.root_task_name) != root_task_id:
            continue
        if scheduled_time_range_start is not None and r.scheduled_time < scheduled_time_range_start:
            continue
        if scheduled_time_range_end is not None and r.scheduled_time >= scheduled_time_range_end:
            continue
        rows.append(
            {
                "QUERY_ID": None,
                "NAME": r.name,
                "DATABASE_NAME": DATABASE,
                "SCHEMA_NAME": SCHEMA,
                "QUERY_TEXT": None,
                "CONDITION_TEXT": r.condition_text,
                "STATE": str(r.state),
                "ERROR_CODE": r.error_code,
                "ERROR_MESSAGE": r.error_message,
                "SCHEDULED_TIME": r.scheduled_time,
                "QUERY_START_TIME": r.query_start_time,
                "NEXT_SCHEDULED_TIME": None,
                "COMPLETED_TIME": r.completed_time,
                "ROOT_TASK_ID": roots.get(r.root_task_name),
                "GRAPH_VERSION": r.graph_version,
                "RUN_ID": r.run_id,
                "RETURN_VALUE": r.return_value,
                "SCHEDULED_FROM": str(r.scheduled_from),
                "ATTEMPT_NUMBER": r.attempt_number,
                "GRAPH_RUN_GROUP_ID": r.graph_run_group_id,
            }
        )
    rows.sort(
        key=lambda row: (row["SCHEDULED_TIME"], row["QUERY_START_TIME"] or row["SCHEDULED_TIME"]),
        reverse=True,
    )
    return rows[:result_limit]
