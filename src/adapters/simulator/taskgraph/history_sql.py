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

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from adapters.simulator.sql.columns import COLUMNS
from adapters.simulator.taskgraph.model import SqlBody
from adapters.simulator.taskgraph.store import GraphRecord, GraphStore, RunRecord
from domain.errors import InvalidConfig, NotFound, Unsupported
from domain.graph import GraphRunState, OverlapPolicy, TaskState
from domain.schedule import utc_now

if TYPE_CHECKING:
    from adapters.simulator.taskgraph.operation import LocalDAGOperation

DATABASE = "SIMULATOR"  # where LocalDAGOperation keeps its graphs (operation.DATABASE/SCHEMA)
SCHEMA = "PUBLIC"

HISTORY_RETENTION = timedelta(days=7)
MAX_RESULT_LIMIT = 10_000
COMPLETE_WINDOW = timedelta(minutes=60)  # COMPLETE_TASK_GRAPHS: runs completed in the past 60 minutes
CURRENT_WINDOW = timedelta(days=8)  # CURRENT_TASK_GRAPHS: runs next scheduled within the next 8 days
_ERROR_STATES = {TaskState.FAILED, TaskState.CANCELLED, TaskState.FAILED_AND_AUTO_SUSPENDED}
TASK_HISTORY_COLUMNS = tuple(COLUMNS["TASK_HISTORY"])


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
    _check_limit(result_limit)
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


def _check_limit(result_limit: object) -> None:
    if isinstance(result_limit, bool) or not isinstance(result_limit, int):
        raise InvalidConfig(f"RESULT_LIMIT => {result_limit!r}: expected an integer 1..{MAX_RESULT_LIMIT}")
    if not 1 <= result_limit <= MAX_RESULT_LIMIT:
        raise InvalidConfig(f"RESULT_LIMIT => {result_limit}: must be 1..{MAX_RESULT_LIMIT}")


def complete_task_graphs(
    store: GraphStore,
    now: datetime,
    *,
    result_limit: int = 1000,
    root_task_name: str | None = None,
    error_only: bool = False,
) -> list[dict[str, Any]]:
    """``COMPLETE_TASK_GRAPHS(...)`` rows (https://docs.snowflake.com/en/sql-reference/functions/complete_task_graphs):
    runs that SUCCEEDED, FAILED or were CANCELLED in the past 60 minutes, newest COMPLETED_TIME first; ROOT_TASK_NAME
    case-insensitive and unqualified; ERROR_ONLY keeps failed and cancelled runs."""
    _check_limit(result_limit)
    states = [GraphRunState.FAILED, GraphRunState.CANCELLED]
    if not error_only:
        states.append(GraphRunState.SUCCEEDED)
    rows = [
        _graph_run_row(run, graph)
        for graph in _graphs(store, root_task_name)
        for run in store.runs(graph.name, states=states, since=now - COMPLETE_WINDOW)
        if run.completed_time is not None and run.completed_time >= now - COMPLETE_WINDOW
    ]
    rows.sort(key=lambda row: row["COMPLETED_TIME"], reverse=True)
    return rows[:result_limit]


def current_task_graphs(
    store: GraphStore, now: datetime, *, result_limit: int = 1000, root_task_name: str | None = None
) -> list[dict[str, Any]]:
    """``CURRENT_TASK_GRAPHS(...)`` rows (https://docs.snowflake.com/en/sql-reference/functions/current_task_graphs):
    EXECUTING runs, and the next SCHEDULED run of each started, scheduled graph within the next 8 days; newest
    SCHEDULED_TIME first."""
    _check_limit(result_limit)
    rows: list[dict[str, Any]] = []
    for graph in _graphs(store, root_task_name):
        rows.extend(
            _graph_run_row(r, graph) for r in store.runs(graph.name, states=[GraphRunState.EXECUTING])
        )
        if graph.state == "started" and graph.next_due is not None and graph.next_due <= now + CURRENT_WINDOW:
            rows.append(
                {
                    **dict.fromkeys(COLUMNS["CURRENT_TASK_GRAPHS"]),
                    "ROOT_TASK_NAME": graph.name,
                    "DATABASE_NAME": DATABASE,
                    "SCHEMA_NAME": SCHEMA,
                    "STATE": str(GraphRunState.SCHEDULED),
                    "SCHEDULED_FROM": "SCHEDULE",
                    "SCHEDULED_TIME": graph.next_due,
                    "ROOT_TASK_ID": graph.root_uuid,
                    "GRAPH_VERSION": graph.graph_version,
                    "CONFIG": json.dumps(graph.config) if graph.config else None,
                }
            )
    rows.sort(key=lambda row: row["SCHEDULED_TIME"], reverse=True)
    return rows[:result_limit]


def _graphs(store: GraphStore, root_task_name: str | None) -> list[GraphRecord]:
    if root_task_name is not None and not isinstance(root_task_name, str):
        raise InvalidConfig(f"ROOT_TASK_NAME => {root_task_name!r}: expected the root task's name, a string")
    wanted = root_task_name.upper() if root_task_name is not None else None
    return [g for g in store.graphs() if wanted is None or g.name.upper() == wanted]


def _graph_run_row(run: RunRecord, graph: GraphRecord) -> dict[str, Any]:
    return {
        "ROOT_TASK_NAME": run.root_task_name,
        "DATABASE_NAME": DATABASE,
        "SCHEMA_NAME": SCHEMA,
        "STATE": str(run.state),
        "SCHEDULED_FROM": str(run.scheduled_from),
        "FIRST_ERROR_TASK_NAME": run.first_error_task_name,
        "FIRST_ERROR_CODE": run.first_error_code,
        "FIRST_ERROR_MESSAGE": run.first_error_message,
        "SCHEDULED_TIME": run.scheduled_time,
        "QUERY_START_TIME": run.query_start_time,
        "NEXT_SCHEDULED_TIME": run.next_scheduled_time,
        "COMPLETED_TIME": run.completed_time,
        "ROOT_TASK_ID": graph.root_uuid,
        "GRAPH_VERSION": run.graph_version,
        "RUN_ID": run.run_id,
        "ATTEMPT_NUMBER": run.attempt_number,
        "CONFIG": json.dumps(run.config) if run.config else None,
        "GRAPH_RUN_GROUP_ID": run.graph_run_group_id,
    }


def show_tasks(
    store: GraphStore,
    definitions: Mapping[str, Mapping[str, str]],
    *,
    like: str | None = None,
    in_scope: str | None = None,
    root_only: bool = False,
) -> list[dict[str, Any]]:
    """``SHOW TASKS [LIKE '…'] [IN …] [ROOT ONLY]`` rows (https://docs.snowflake.com/en/sql-reference/sql/show-tasks),
    a root's row and each of its tasks'. ``definitions``: graph -> task full name -> SQL text, for the graphs whose
    definitions this process holds (Python tasks have none). Columns without a value here (owner, warehouse,
    comment, budget…) are NULL."""
    if not _in_simulator_schema(in_scope):
        return []
    pattern = _like(like) if like is not None else None
    rows = []
    for graph in store.graphs():
        qualified = f"{DATABASE}.{SCHEMA}."
        by_name = {t["name"]: t["full_name"] for t in graph.structure["tasks"]}
        finalizer = by_name.get(graph.structure.get("finalizer") or "")
        texts = definitions.get(graph.name, {})
        relations: dict[str, Any] = {"Predecessors": []}
        if finalizer:
            relations["FinalizerTask"] = qualified + finalizer
        rows.append(_task_row(graph, graph.name, graph.root_uuid, [], None, graph.schedule, relations, None))
        rows[-1]["allow_overlapping_execution"] = str(
            graph.overlap_policy != OverlapPolicy.NO_OVERLAP
        ).lower()
        rows[-1]["config"] = json.dumps(graph.config) if graph.config else None
        if not root_only:
            for task in graph.structure["tasks"]:
                full = task["full_name"]
                predecessors = [qualified + by_name[p] for p in task["predecessors"]] or (
                    [] if task["is_finalizer"] else [qualified + graph.name]
                )
                task_relations: dict[str, Any] = {"Predecessors": predecessors}
                if task["is_finalizer"]:
                    task_relations["FinalizedRootTask"] = qualified + graph.name
                rows.append(
                    _task_row(
                        graph,
                        full,
                        str(uuid.uuid5(uuid.UUID(graph.root_uuid), full)),
                        predecessors,
                        task["condition"],
                        None,
                        task_relations,
                        texts.get(full),
                    )
                )
    return [r for r in rows if pattern is None or pattern.fullmatch(r["name"])]


def _task_row(
    graph: GraphRecord,
    name: str,
    task_id: str,
    predecessors: list[str],
    condition: str | None,
    schedule: str | None,
    relations: dict[str, Any],
    definition: str | None,
) -> dict[str, Any]:
    return {
        **dict.fromkeys(COLUMNS["SHOW_TASKS"]),
        "created_on": graph.created_on,
        "name": name,
        "id": task_id,
        "database_name": DATABASE,
        "schema_name": SCHEMA,
        "schedule": schedule,
        "predecessors": json.dumps(predecessors),
        "state": graph.state,
        "definition": definition,
        "condition": condition,
        "task_relations": json.dumps(relations),
        "last_suspended_reason": graph.last_suspended_reason,
    }


def _like(pattern: str) -> re.Pattern[str]:
    """SHOW's LIKE: case-insensitive, ``%`` any run of characters, ``_`` one character, ``\\`` escapes."""
    parts = re.split(r"(\\\\.|%|_)", pattern)
    regex = "".join(
        ".*" if p == "%" else "." if p == "_" else re.escape(p[1:] if p.startswith("\\") else p)
        for p in parts
    )
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def _in_simulator_schema(scope: str | None) -> bool:
    """Whether ``IN …`` of SHOW TASKS covers SIMULATOR.PUBLIC, where the graphs are (the current schema too)."""
    if scope is None:
        return True
    words = scope.split(None, 1)
    kind = words[0].upper()
    if kind == "ACCOUNT":
        return True
    name = words[1] if len(words) > 1 else None
    if kind not in ("DATABASE", "SCHEMA"):
        kind, name = "SCHEMA", scope
    if name is None:
        return True
    parts = [_identifier(p) for p in name.split(".")]
    return parts == [DATABASE] if kind == "DATABASE" else parts in ([SCHEMA], [DATABASE, SCHEMA])


def _identifier(part: str) -> str:
    return part[1:-1] if part.startswith('"') and part.endswith('"') else part.upper()


def _timestamp(value: Any, what: str) -> datetime | None:
    """A time argument as the session evaluated it: a datetime (naive ones are UTC, the session's zone) or text."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidConfig(f"{what} => {value!r}: expected a timestamp") from exc
    if not isinstance(value, datetime):
        raise InvalidConfig(f"{what} => {value!r}: expected a timestamp")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidConfig(f"{what} => {value!r}: expected TRUE or FALSE")
    return value


class GraphSql:
    """The engine's side of Task Graph SQL (``sql.taskgraph_sql.TaskGraphs``), over one ``LocalDAGOperation``."""

    def __init__(self, operation: LocalDAGOperation) -> None:
        self._operation = operation

    def table_function(self, name: str, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
        store, now = self._operation.store, utc_now()
        if name == "TASK_HISTORY":
            return task_history(
                store,
                now,
                scheduled_time_range_start=_timestamp(
                    arguments.get("SCHEDULED_TIME_RANGE_START"), "SCHEDULED_TIME_RANGE_START"
                ),
                scheduled_time_range_end=_timestamp(
                    arguments.get("SCHEDULED_TIME_RANGE_END"), "SCHEDULED_TIME_RANGE_END"
                ),
                result_limit=arguments.get("RESULT_LIMIT", 100),
                task_name=arguments.get("TASK_NAME"),
                error_only=_flag(arguments.get("ERROR_ONLY", False), "ERROR_ONLY"),
                root_task_id=arguments.get("ROOT_TASK_ID"),
            )
        if name == "COMPLETE_TASK_GRAPHS":
            return complete_task_graphs(
                store,
                now,
                result_limit=arguments.get("RESULT_LIMIT", 1000),
                root_task_name=arguments.get("ROOT_TASK_NAME"),
                error_only=_flag(arguments.get("ERROR_ONLY", False), "ERROR_ONLY"),
            )
        if name == "CURRENT_TASK_GRAPHS":
            return current_task_graphs(
                store,
                now,
                result_limit=arguments.get("RESULT_LIMIT", 1000),
                root_task_name=arguments.get("ROOT_TASK_NAME"),
            )
        raise Unsupported(f"table function {name} is not served by the simulator's task engine")

    def execute_task(self, name: str, *, config: dict[str, Any] | None, retry_last: bool) -> None:
        """Starts the run and returns at once, as EXECUTE TASK does (docs: sql/execute-task)."""
        graph, task = self._resolve(name)
        if task is not None:
            raise Unsupported(
                f"EXECUTE TASK {name}: {task} is a child task of {graph}; the simulator runs a graph from its root "
                f"— EXECUTE TASK {graph}"
            )
        self._operation.start(graph, retry_last=retry_last, config=config)

    def alter_task(self, name: str, action: str) -> None:
        graph, task = self._resolve(name)
        if task is not None:
            raise Unsupported(
                f"ALTER TASK {name} {action}: the simulator keeps one state per graph, its root's; suspend or "
                f"resume the root instead: ALTER TASK {graph} {action}"
            )
        if action == "SUSPEND":
            self._operation.suspend(graph)
        else:
            self._operation.resume(graph)

    def enable_dependents(self, name: str) -> None:
        graph, _ = self._resolve(name)
        self._operation.resume(graph)

    def show_tasks(self, *, like: str | None, in_scope: str | None, root_only: bool) -> list[dict[str, Any]]:
        definitions = {
            graph: {
                t.full_name: t.body.text for t in definition.tasks.values() if isinstance(t.body, SqlBody)
            }
            for graph, definition in self._operation.definitions().items()
        }
        return show_tasks(
            self._operation.store, definitions, like=like, in_scope=in_scope, root_only=root_only
        )

    def _resolve(self, name: str) -> tuple[str, str | None]:
        """The graph a task name (``[DB.][SCHEMA.]NAME``, quoted or not) names, and the child task's full name."""
        parts = [_identifier(p) for p in re.findall(r'"[^"]+"|[^.]+', name)]
        if parts[:-1] not in ([], [SCHEMA], [DATABASE, SCHEMA]):
            raise NotFound(f"task {name}: the simulator's tasks live in {DATABASE}.{SCHEMA}")
        wanted = parts[-1]
        graphs = self._operation.store.graphs()
        for graph in graphs:
            if graph.name == wanted:
                return graph.name, None
            if any(t["full_name"] == wanted for t in graph.structure["tasks"]):
                return graph.name, wanted
        raise NotFound(f"task {name} does not exist; deployed task graphs: {sorted(g.name for g in graphs)}")
