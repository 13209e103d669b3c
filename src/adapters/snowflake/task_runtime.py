"""TaskRuntime inside a deployed task: the shared TaskContext runtime, with Snowflake's errors translated.

Two reads differ from the simulator's, because Snowflake documents them differently:

- ``task_state``: ``SYSTEM$TASK_COMPLETION_STATE`` is documented for a task's WHEN clause, and "for a
  deterministic result, the task must be a direct or indirect predecessor of the calling task"
  (https://docs.snowflake.com/sql-reference/functions/system_task_completion_state). The finalizer has no
  predecessors, so it reads ``INFORMATION_SCHEMA.TASK_HISTORY(ROOT_TASK_ID => …)`` filtered to its own graph
  run group, as Snowflake's own finalizer example does with ``CURRENT_ROOT_TASK_UUID``
  (https://docs.snowflake.com/en/user-guide/tasks-graphs, "send an email summary"; TASK_HISTORY columns:
  https://docs.snowflake.com/sql-reference/functions/task_history; GRAPH_RUN_GROUP_ID with ATTEMPT_NUMBER
  identifies a graph run: https://docs.snowflake.com/release-notes/bcr-bundles/2023_06/bcr-1279).
- ``scheduled_time``: ``TaskContext`` selects ``to_timestamp(...)``, which is TO_TIMESTAMP_NTZ under the
  default TIMESTAMP_TYPE_MAPPING (https://docs.snowflake.com/sql-reference/functions/to_timestamp): a wall
  clock in the session's TIMEZONE with the zone dropped. The instant is converted to UTC in SQL instead and
  returned as text with its offset, so the version name is the same in every session time zone.
"""

from __future__ import annotations

from typing import Any

from adapters.dagv1.task_runtime import TaskContextRuntime
from adapters.snowflake.errors import vendor_errors
from adapters.snowflake.rows import row_dict
from adapters.snowflake.sql_text import string_literal
from domain.errors import BackendUnavailable
from domain.graph import validate_name

ORIGINAL_SCHEDULE_UTC_SQL = (
    "select to_char(convert_timezone('UTC', to_timestamp_tz("
    "SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP'))), "
    "'YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM')"
)

# TASK_HISTORY STATE values (docs above; FAILED_AND_AUTO_SUSPENDED: release note bcr-990) as the states
# SYSTEM$TASK_COMPLETION_STATE reports, which the TaskRuntime port promises. A run that never started
# (still SCHEDULED when the finalizer runs) did not execute; a value not listed here is passed on as reported.
_STATES = {
    "SUCCEEDED": "SUCCEEDED",
    "FAILED": "FAILED",
    "FAILED_AND_AUTO_SUSPENDED": "FAILED",
    "CANCELLED": "CANCELLED",
    "SKIPPED": "SKIPPED",
    "SCHEDULED": "NOT_EXECUTED",
}
NOT_EXECUTED = "NOT_EXECUTED"  # no TASK_HISTORY row in this run group: as SYSTEM$TASK_COMPLETION_STATE says


class SnowflakeTaskRuntime(TaskContextRuntime):
    """The TaskRuntime port inside a deployed task (every call fails outside a task run, as in Snowflake)."""

    def __init__(self, session: Any, context: Any = None) -> None:
        super().__init__(session, context, guard=vendor_errors)

    def _original_schedule(self) -> object:
        return self._session.sql(ORIGINAL_SCHEDULE_UTC_SQL).collect()[0][0]

    def task_state(self, task_name: str) -> str:
        """This run's state of ``task_name``: its latest attempt in the current graph run group."""
        name = validate_name(task_name).upper()  # stored upper-case, as dagv1 creates it
        with self._guard(f"reading the state of task {task_name!r} from TASK_HISTORY"):
            root = self._ctx.get_current_root_task_name()
            rows = self._group_history(f"{root[root.rfind('.') + 1 :]}${name}")  # dagv1: <root>$<task>
        if not rows:
            return NOT_EXECUTED
        latest = max(rows, key=_attempt_order)
        state = str(latest["STATE"]).upper()
        return _STATES.get(state, state)

    def graph_run_id(self) -> str:
        """The RUN_ID of this task's row in TASK_HISTORY: SYSTEM$TASK_RUNTIME_INFO offers only the run group's
        id (CURRENT_TASK_GRAPH_RUN_GROUP_ID), while COMPLETE_TASK_GRAPHS and ``runs`` name a run by RUN_ID."""
        with self._guard("reading the graph run's RUN_ID from TASK_HISTORY"):
            name = self._ctx.get_current_task_name()
            rows = self._group_history(name[name.rfind(".") + 1 :])
        if not rows:
            raise BackendUnavailable(
                f"TASK_HISTORY has no row for the running task {name} in its graph run group; is this a task run?"
            )
        return str(max(rows, key=_attempt_order)["RUN_ID"])

    def _group_history(self, full_name: str) -> list[dict[str, Any]]:
        """TASK_HISTORY rows of one task (``<root>$<task>``) in the current graph run group."""
        rows = self._session.sql(
            f"select NAME, STATE, RUN_ID, ATTEMPT_NUMBER, QUERY_START_TIME from table({self._info_schema()}"
            f".TASK_HISTORY(ROOT_TASK_ID => {string_literal(self._ctx.get_current_root_task_uuid())}, "
            "RESULT_LIMIT => 10000)) "
            f"where to_char(GRAPH_RUN_GROUP_ID) = "
            f"{string_literal(self._ctx.get_current_task_graph_run_group_id())} "
            f"and NAME = {string_literal(full_name)}"
        ).collect()
        return [row_dict(r, "upper") for r in rows]

    def _info_schema(self) -> str:
        # The task's session has the task's database as its current one (SQL text, quoted if need be).
        database = self._session.get_current_database()
        return f"{database}.INFORMATION_SCHEMA" if database else "INFORMATION_SCHEMA"


def _attempt_order(row: dict[str, Any]) -> tuple[int, bool, str]:
    start = row.get("QUERY_START_TIME")
    return int(row.get("ATTEMPT_NUMBER") or 1), start is not None, str(start or "")
