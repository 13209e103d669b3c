"""The columns of Snowflake's Task Graph table functions and of SHOW TASKS, as their docs pages give them.

Plain data in its own module: the engine's history reader (taskgraph/history_sql.py) shapes its rows by them
without importing the SQL server's rule modules (and, through them, the Snowflake connector).
"""

from __future__ import annotations

SHOW_TASKS = "SHOW_TASKS"  # the ``COLUMNS`` key of SHOW TASKS' output
_TIME = "TIMESTAMPTZ"  # TIMESTAMP_LTZ, as the docs type these columns (fakesnow maps LTZ to TIMESTAMPTZ)
# Where TASK_HISTORY and the graph-run functions list the same columns in the same order.
_TIMES_AND_IDS = {
    "SCHEDULED_TIME": _TIME,
    "QUERY_START_TIME": _TIME,
    "NEXT_SCHEDULED_TIME": _TIME,
    "COMPLETED_TIME": _TIME,
    "ROOT_TASK_ID": "VARCHAR",
    "GRAPH_VERSION": "BIGINT",
    "RUN_ID": "BIGINT",
}
# COMPLETE_TASK_GRAPHS' columns in the documented order; CURRENT_TASK_GRAPHS has the same ones in the same order
# but for those only an ended run has (the docs pages of the two functions list them so).
_GRAPH_RUN_COLUMNS = {
    "ROOT_TASK_NAME": "VARCHAR",
    "DATABASE_NAME": "VARCHAR",
    "SCHEMA_NAME": "VARCHAR",
    "STATE": "VARCHAR",
    "SCHEDULED_FROM": "VARCHAR",
    "FIRST_ERROR_TASK_NAME": "VARCHAR",
    "FIRST_ERROR_CODE": "BIGINT",
    "FIRST_ERROR_MESSAGE": "VARCHAR",
    **_TIMES_AND_IDS,
    "ATTEMPT_NUMBER": "BIGINT",
    "CONFIG": "VARCHAR",
    "GRAPH_RUN_GROUP_ID": "VARCHAR",
}
_ENDED_RUN_ONLY = {"FIRST_ERROR_TASK_NAME", "FIRST_ERROR_CODE", "FIRST_ERROR_MESSAGE", "COMPLETED_TIME"}
# Each function's (and SHOW TASKS') columns in the documented order, with their DuckDB types. The QUERY_HASH
# family and BACKFILL_INFO are left out: the simulator has no value for them.
COLUMNS: dict[str, dict[str, str]] = {
    "TASK_HISTORY": {
        "QUERY_ID": "VARCHAR",
        "NAME": "VARCHAR",
        "DATABASE_NAME": "VARCHAR",
        "SCHEMA_NAME": "VARCHAR",
        "QUERY_TEXT": "VARCHAR",
        "CONDITION_TEXT": "VARCHAR",
        "STATE": "VARCHAR",
        "ERROR_CODE": "BIGINT",
        "ERROR_MESSAGE": "VARCHAR",
        **_TIMES_AND_IDS,
        "RETURN_VALUE": "VARCHAR",
        "SCHEDULED_FROM": "VARCHAR",
        "ATTEMPT_NUMBER": "BIGINT",
        "GRAPH_RUN_GROUP_ID": "VARCHAR",
    },
    "COMPLETE_TASK_GRAPHS": _GRAPH_RUN_COLUMNS,
    "CURRENT_TASK_GRAPHS": {c: t for c, t in _GRAPH_RUN_COLUMNS.items() if c not in _ENDED_RUN_ONLY},
    SHOW_TASKS: {
        "created_on": _TIME,
        "name": "VARCHAR",
        "id": "VARCHAR",
        "database_name": "VARCHAR",
        "schema_name": "VARCHAR",
        "owner": "VARCHAR",
        "comment": "VARCHAR",
        "warehouse": "VARCHAR",
        "schedule": "VARCHAR",
        "predecessors": "VARCHAR",
        "state": "VARCHAR",
        "definition": "VARCHAR",
        "condition": "VARCHAR",
        "allow_overlapping_execution": "VARCHAR",
        "error_integration": "VARCHAR",
        "last_committed_on": _TIME,
        "last_suspended_on": _TIME,
        "owner_role_type": "VARCHAR",
        "config": "VARCHAR",
        "budget": "VARCHAR",
        "task_relations": "VARCHAR",
        "last_suspended_reason": "VARCHAR",
    },
}
