"""Scheduler on ``snowflake.core.task.dagv1``: deploy, run, follow one's own run, suspend, resume, drop.

The DAG is built from the GraphSpec by ``adapters.dagv1.build.build_dag`` (the object the simulator runs).
Python task definitions become anonymous stored procedures uploaded to the DAG stage, with the project's own
packages (``domain``, ``adapters``, ``app``) shipped as directory imports and the conda packages of
``deploy_packages()``.

Monitoring follows the run that ``run`` started, not "the first row": ``run`` records the runs that exist,
executes the root, and returns the RUN_ID of the new EXECUTE TASK run that appears; ``wait`` polls
CURRENT_TASK_GRAPHS / COMPLETE_TASK_GRAPHS for that id with a timeout, and TASK_HISTORY gives its tasks.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.dagv1.build import DefinitionFor, build_dag
from adapters.snowflake.errors import vendor_errors
from adapters.snowflake.rows import row_dict
from adapters.snowflake.session import SnowflakeNames
from domain.errors import InvalidConfig, JobTimeout, NotFound
from domain.graph import (
    DeployedGraph,
    GraphRun,
    GraphRunState,
    GraphSpec,
    ScheduledFrom,
    TaskRun,
    TaskState,
    validate_name,
)

# Conda packages (Snowflake Anaconda channel) the deployed task procedures need, pinned to the versions this
# project is tested with (pyproject.toml), so a task runs the library code its tests ran. snowflake.core is
# how the channel spells snowflake-core (TaskContext and the task APIs inside a task). numpy is left to the
# channel's solver: snowflake-ml-python's pin decides it. Snowpark checks each pin against
# information_schema.packages when it registers a task (session.py ``_get_dependency_packages``).
DEPLOY_PACKAGES = (
    "snowflake-snowpark-python==1.56.0",
    "snowflake-ml-python==2.6.0",
    "snowflake.core==1.14.0",
    "xgboost==3.2.0",
    "numpy",
)
PROJECT_PACKAGES = ("domain", "adapters", "app")
_IN_SCHEMA = " where DATABASE_NAME = ? and SCHEMA_NAME = ?"
_ROOT_TASK_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
_RUN_ID = re.compile(r"^\d{1,20}$")
_EXECUTE_FIX = "GRANT EXECUTE TASK ON ACCOUNT TO ROLE {role}"
_DEPLOY_FIX = (
    "GRANT CREATE TASK ON SCHEMA {schema} TO ROLE {role}; GRANT EXECUTE TASK ON ACCOUNT TO ROLE {role}; "
    "GRANT READ, WRITE ON STAGE {stage} TO ROLE {role}"
)


def deploy_packages(extra: tuple[str, ...] = ()) -> list[str]:
    """The packages listed on every deployed Python task; ``extra`` are added unless the package is listed
    already (by name: the pinned ``xgboost==…`` stays when ``xgboost`` is asked for again)."""
    from packaging.requirements import Requirement

    by_name: dict[str, str] = {}
    for spec in (*DEPLOY_PACKAGES, *extra):
        by_name.setdefault(Requirement(spec).name.lower(), spec)
    return list(by_name.values())


def deploy_imports(project_root: str | Path | None = None) -> list[tuple[str, str]]:
    """``(directory, import path)`` pairs that ship the project's packages with each task procedure.

    Snowpark zips a directory import under its import path when the path ends with it
    (``…/domain`` → ``domain/``), so ``import domain`` works inside the task. Without ``project_root`` the
    packages are taken from where this process imports them, which works for source and installed copies alike.
    """
    if project_root is None:
        import importlib

        folders = {pkg: Path(importlib.import_module(pkg).__file__ or "").parent for pkg in PROJECT_PACKAGES}
    else:
        src = Path(project_root).resolve() / "src"
        folders = {pkg: src / pkg for pkg in PROJECT_PACKAGES}
    pairs = [(str(path), pkg) for pkg, path in folders.items() if (path / "__init__.py").is_file()]
    if len(pairs) != len(PROJECT_PACKAGES):
        missing = sorted(set(PROJECT_PACKAGES) - {pkg for _, pkg in pairs})
        raise InvalidConfig(
            f"cannot find the project's packages {missing} under {project_root}; pass the folder with src/"
        )
    return pairs


def _default_definitions(spec: Any) -> Any:
    raise InvalidConfig(
        f"task {spec.name!r} has no definition: build SnowflakeScheduler with definition_for "
        "(the app's task functions)"
    )


class SnowflakeScheduler:
    """The Scheduler port on a real account (task graphs live in ``names.database``.``names.schema``)."""

    def __init__(
        self,
        session: Any,
        names: SnowflakeNames | None = None,
        definition_for: DefinitionFor | None = None,
        *,
        schema: Any = None,
        project_root: str | Path | None = None,
        extra_packages: tuple[str, ...] = (),
        poll_seconds: float = 5.0,
        appear_timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self.names = names or SnowflakeNames()
        self._definition_for = definition_for or _default_definitions
        self._schema = schema
        self._project_root = project_root
        self._packages = deploy_packages(extra_packages)
        self._poll = poll_seconds
        self._appear_timeout = appear_timeout
        self._clock = clock
        self._sleep = sleep

    # --- the snowflake.core resources ------------------------------------------------------------------

    @property
    def schema(self) -> Any:
        if self._schema is None:
            from snowflake.core import Root

            with vendor_errors(f"schema {self.names.schema_fqn}"):
                self._schema = Root(self._session).databases[self.names.database].schemas[self.names.schema]
        return self._schema

    def _operation(self) -> Any:
        from snowflake.core.task.dagv1 import DAGOperation

        return DAGOperation(self.schema)

    def build(self, graph: GraphSpec) -> Any:
        """The dagv1 DAG that ``deploy`` would create (used by ``plan`` and the offline tests)."""
        return build_dag(
            graph,
            self._definition_for,
            stage_location=self.names.dag_stage,
            packages=self._packages,
            imports=deploy_imports(self._project_root),
        )

    # --- Scheduler port ---------------------------------------------------------------------------------

    def deploy(self, graph: GraphSpec) -> None:
        """Replace the graph with ``graph``, all or nothing.

        dagv1's ``DAGOperation.deploy`` creates the root, then each task (registering its stored procedure
        first) and resumes it; when one step fails, the tasks this deploy created are dropped again and the
        error names the task that failed and the library's reason.
        """
        from snowflake.core.task.dagv1 import CreateMode, DAGOperation

        dag = self.build(graph)
        fqn = self.names.qualified(graph.name)
        grants = _DEPLOY_FIX.format(
            schema=self.names.schema_fqn, role=self.names.role, stage=self.names.dag_stage
        )
        with vendor_errors(f"deploying task graph {fqn}", privilege_fix=grants):
            # The finalizer too: dagv1's or_replace drop keeps it, and the new root could not adopt it.
            self._drop(graph.name)
        schema = _CreationLog(self.schema)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                DAGOperation(schema).deploy(dag, mode=CreateMode.or_replace)
        except Exception:
            failed = schema.tasks.attempted[-1] if schema.tasks.attempted else dag.name
            left = self._undo_deploy(schema.tasks.attempted)
            what = f"deploying task graph {fqn}: task {self.names.qualified(failed)} failed"
            if left:
                what += f" (and these could not be dropped again: {', '.join(left)})"
            with vendor_errors(what, privilege_fix=grants):
                raise

    def run(
        self, graph_name: str, *, config: Mapping[str, Any] | None = None, retry_last: bool = False
    ) -> str:
        root = self._root_name(graph_name)
        if config and retry_last:
            raise InvalidConfig(
                "retry_last re-runs the failed graph run with its own config; drop the config"
            )
        grants = _EXECUTE_FIX.format(role=self.names.role)
        with vendor_errors(f"running task graph {self.names.qualified(root)}", privilege_fix=grants):
            self._require_root(root)
            before = {row_key(r) for r in self._graph_rows(root)}
            if config:
                self._execute_with_config(root, config)
            else:
                self._operation().run(root, retry_last=retry_last)
            return self._await_new_run(
                root, before, ScheduledFrom.MANUAL_RETRY if retry_last else ScheduledFrom.EXECUTE_TASK
            )

    def wait(self, graph_name: str, run_id: str, timeout: float | None = None) -> GraphRun:
        root = self._root_name(graph_name)
        run_id = _checked_run_id(run_id)
        deadline = None if timeout is None else self._clock() + timeout
        last_state = "not started"
        while True:
            with vendor_errors(f"graph run {run_id} of {self.names.qualified(root)}"):
                current = [r for r in self._current_rows(root) if str(r["RUN_ID"]) == run_id]
                if not current:
                    done = [r for r in self._complete_rows(root) if str(r["RUN_ID"]) == run_id]
                    if done:
                        return self._with_tasks(_latest_attempts(done))[0]
                else:
                    last_state = str(current[0]["STATE"])
            if deadline is not None and self._clock() >= deadline:
                raise JobTimeout(
                    f"graph run {run_id} of {self.names.qualified(root)} did not finish within {timeout} s "
                    f"(last state {last_state}); it keeps running — wait again or suspend the graph"
                )
            self._sleep(self._poll)

    def runs(self, graph_name: str, limit: int = 20) -> list[GraphRun]:
        """Graph runs newest first, each its latest attempt with its tasks (one TASK_HISTORY query for all)."""
        root = self._root_name(graph_name)
        with vendor_errors(f"graph runs of {self.names.qualified(root)}"):
            rows = sorted(_latest_attempts(self._graph_rows(root)), key=_scheduled, reverse=True)[:limit]
            return self._with_tasks(rows)

    def run_detail(self, graph_name: str, run_id: str) -> GraphRun:
        """One graph run by its RUN_ID, read from the graph-run views filtered by that id, with its tasks."""
        root = self._root_name(graph_name)
        run_id = _checked_run_id(run_id)
        with vendor_errors(f"graph run {run_id} of {self.names.qualified(root)}"):
            found = _latest_attempts(self._graph_rows(root, run_id))
            if not found:
                raise NotFound(
                    f"no graph run {run_id} of task graph {self.names.qualified(root)}; "
                    "`python -m app runs` lists them"
                )
            return self._with_tasks(found)[0]

    def task_history(self, graph_name: str, run_id: str | None = None) -> list[TaskRun]:
        root = self._root_name(graph_name)
        with vendor_errors(f"task history of {self.names.qualified(root)}"):
            if run_id is not None:
                run_id = _checked_run_id(run_id)
            rows = self._graph_rows(root, run_id)
            history = self._history_rows(
                {str(r["ROOT_TASK_ID"]) for r in rows if r.get("ROOT_TASK_ID")}, run_id
            )
        return [task_run_from_row(h) for h in sorted(history, key=_history_order)]

    def deployed(self, graph_name: str) -> DeployedGraph:
        from snowflake.core.exceptions import NotFoundError

        root_name = self._root_name(graph_name)
        with vendor_errors(f"task graph {self.names.qualified(root_name)}"):
            try:
                root = self.schema.tasks[root_name].fetch()
            except NotFoundError:
                raise NotFound(f"task graph {self.names.qualified(root_name)} is not deployed") from None
        config = root.config if isinstance(root.config, dict) else json.loads(root.config or "{}")
        schedule = None if root.schedule is None else str(root.schedule)
        return DeployedGraph(root_name, dict(config), schedule, str(root.state or "suspended").lower())

    def suspend(self, graph_name: str) -> None:
        root = self._root_name(graph_name)
        with vendor_errors(f"task graph {self.names.qualified(root)}"):
            self.schema.tasks[root].suspend()

    def resume(self, graph_name: str) -> None:
        root = self._root_name(graph_name)
        with vendor_errors(
            f"task graph {self.names.qualified(root)}",
            privilege_fix=_EXECUTE_FIX.format(role=self.names.role),
        ):
            self.schema.tasks[root].resume()

    def drop(self, graph_name: str) -> None:
        root = self._root_name(graph_name)
        with vendor_errors(f"task graph {self.names.qualified(root)}"):
            self._require_root(root)
            self._drop(root)

    def cancel(self, graph_name: str) -> list[str]:
        """Cancel the graph's ongoing executions; returns the RUN_IDs that were executing just before."""
        root = self._root_name(graph_name)
        fqn = self.names.qualified(root)
        with vendor_errors(
            f"cancelling task graph {fqn}", privilege_fix=_EXECUTE_FIX.format(role=self.names.role)
        ):
            self._require_root(root)
            executing = [str(r["RUN_ID"]) for r in self._current_rows(root) if r.get("STATE") == "EXECUTING"]
            self._session.sql("SELECT SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS(?)", params=[fqn]).collect()
        return list(dict.fromkeys(executing))

    # --- helpers ------------------------------------------------------------------------------------------

    def _root_name(self, graph_name: str) -> str:
        return validate_name(graph_name, "graph").upper()

    def _require_root(self, root: str) -> None:
        from snowflake.core.exceptions import NotFoundError

        try:
            self.schema.tasks[root].fetch()
        except NotFoundError:
            raise NotFound(
                f"task graph {self.names.qualified(root)} is not deployed; run `python -m app deploy` first"
            ) from None

    def _drop(self, root: str) -> None:
        from snowflake.core.exceptions import NotFoundError

        # dagv1 itself warns about its deprecated FQN class while reading the finalizer.
        with suppress(NotFoundError), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._operation().drop(root, drop_finalizer=True)

    def _undo_deploy(self, names: list[str]) -> list[str]:
        """Drop the tasks a failed deploy created (children first); returns those that could not be dropped."""
        from snowflake.core.exceptions import NotFoundError

        left = []
        for name in reversed(names):
            try:
                self.schema.tasks[name].drop(if_exists=True)
            except NotFoundError:
                continue
            except Exception:  # the original failure is what the caller must see; report what is left
                left.append(self.names.qualified(name))
        return left

    def _execute_with_config(self, root: str, config: Mapping[str, Any]) -> None:
        for key, value in config.items():
            if not isinstance(value, str | int | float | bool):
                raise InvalidConfig(
                    f"config key {key!r} has a {type(value).__name__} value; only str/int/float/bool"
                )
        fqn = self.names.qualified(root)
        # EXECUTE TASK takes no bind variables; the JSON is a quoted literal with \ and ' escaped.
        literal = json.dumps(dict(config), sort_keys=True).replace("\\", "\\\\").replace("'", "''")
        self._session.sql(f"EXECUTE TASK {fqn} USING CONFIG = '{literal}'").collect()

    def _await_new_run(self, root: str, before: set[tuple[str, int]], origin: ScheduledFrom) -> str:
        deadline = self._clock() + self._appear_timeout
        while True:
            fresh = [
                r
                for r in self._graph_rows(root)
                if row_key(r) not in before and str(r.get("SCHEDULED_FROM", "")).replace("_", " ") == origin
            ]
            if fresh:
                return str(min(fresh, key=lambda r: r["SCHEDULED_TIME"])["RUN_ID"])
            if self._clock() >= deadline:
                raise JobTimeout(
                    f"no run of {self.names.qualified(root)} appeared within {self._appear_timeout} s after "
                    f"EXECUTE TASK (none with SCHEDULED_FROM {origin}; was the root skipped by its WHEN "
                    "condition or an overlapping run?)"
                )
            self._sleep(min(self._poll, 2.0))

    def _info_schema(self) -> str:
        return f"{self.names.database}.INFORMATION_SCHEMA"

    def _graph_rows(self, root: str, run_id: str | None = None) -> list[dict[str, Any]]:
        return self._current_rows(root, run_id) + self._complete_rows(root, run_id)

    def _current_rows(self, root: str, run_id: str | None = None) -> list[dict[str, Any]]:
        return self._graph_view(f"CURRENT_TASK_GRAPHS(ROOT_TASK_NAME => '{root}')", run_id)

    def _complete_rows(self, root: str, run_id: str | None = None) -> list[dict[str, Any]]:
        return self._graph_view(
            f"COMPLETE_TASK_GRAPHS(ROOT_TASK_NAME => '{root}', RESULT_LIMIT => 1000)", run_id
        )

    def _graph_view(self, function: str, run_id: str | None) -> list[dict[str, Any]]:
        # run_id is checked digits (_checked_run_id) and bound; the view functions take no RUN_ID argument.
        by_run = "" if run_id is None else " and RUN_ID = ?"
        params = self._schema_params() + ([] if run_id is None else [int(run_id)])
        return self._rows(
            f"select * from table({self._info_schema()}.{function}){_IN_SCHEMA}{by_run}", params
        )

    def _schema_params(self) -> list[str]:
        # The views report names as stored (SNOWBANK for a configured `snowbank`), hence the resolved forms.
        return [self.names.resolved("database"), self.names.resolved("schema")]

    def _history_rows(self, root_task_ids: set[str], run_ids: str | list[str] | None) -> list[dict[str, Any]]:
        """TASK_HISTORY rows of ``run_ids`` (all runs when None) under each root task id, in ONE statement: a
        redeployed graph has a new ROOT_TASK_ID, and its older runs keep the old one."""
        for root_task_id in root_task_ids:
            if not _ROOT_TASK_ID.match(root_task_id):
                raise InvalidConfig(f"unexpected ROOT_TASK_ID {root_task_id!r}")
        if not root_task_ids:
            return []
        ids = [run_ids] if isinstance(run_ids, str) else run_ids
        # RUN_IDs are checked digits (_checked_run_id, or read from the graph-run views): safe as literals.
        where = "" if ids is None else f" where RUN_ID in ({', '.join(str(int(i)) for i in ids)})"
        return self._rows(
            " union all ".join(
                f"select * from table({self._info_schema()}.TASK_HISTORY(ROOT_TASK_ID => '{rid}',"
                f" RESULT_LIMIT => 10000)){where}"
                for rid in sorted(root_task_ids)
            )
        )

    def _rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return [row_dict(r, "upper") for r in self._session.sql(sql, params=params).collect()]

    def _with_tasks(self, rows: list[dict[str, Any]]) -> list[GraphRun]:
        """Graph-run rows as GraphRuns, in order, each with its TASK_HISTORY rows (one query for all)."""
        from dataclasses import replace

        runs = [graph_run_from_row(r) for r in rows]
        if not runs:
            return []
        roots = {str(r["ROOT_TASK_ID"]) for r in rows if r.get("ROOT_TASK_ID")}
        tasks: dict[str, list[TaskRun]] = {}
        for h in sorted(self._history_rows(roots, [g.run_id for g in runs]), key=_history_order):
            tasks.setdefault(str(h["RUN_ID"]), []).append(task_run_from_row(h))
        return [replace(g, tasks=tuple(tasks.get(g.run_id, ()))) for g in runs]


class _CreationLog:
    """A schema whose task collection records each task dagv1 asks to create, in order.

    ``DAGOperation`` reaches Snowflake only through ``schema.tasks`` (snowflake/core/task/dagv1.py
    ``DAGOperation.deploy``: ``tasks.create`` for the root and each task, then ``tasks[name].resume``), so the
    last name recorded is the task being created or resumed when a step fails, and the names recorded are
    exactly what a failed deploy must drop again.
    """

    def __init__(self, schema: Any) -> None:
        self._schema = schema
        self.tasks = _RecordedTasks(schema.tasks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._schema, name)


class _RecordedTasks:
    def __init__(self, tasks: Any) -> None:
        self._tasks = tasks
        self.attempted: list[str] = []

    def create(self, task: Any, *args: Any, **kwargs: Any) -> Any:
        self.attempted.append(str(task.name))
        return self._tasks.create(task, *args, **kwargs)

    def __getitem__(self, name: str) -> Any:
        return self._tasks[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tasks, name)


def _checked_run_id(run_id: str) -> str:
    run_id = str(run_id)
    if not _RUN_ID.match(run_id):
        raise InvalidConfig(f"run id {run_id!r} is not a Snowflake graph RUN_ID (digits, as returned by run)")
    return run_id


def row_key(row: Mapping[str, Any]) -> tuple[str, int]:
    """A graph run is identified by its RUN_ID and attempt (retries share the RUN_ID)."""
    return str(row["RUN_ID"]), int(row.get("ATTEMPT_NUMBER") or 1)


def _latest_attempts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per RUN_ID: its latest attempt (a retried run keeps its RUN_ID)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row["RUN_ID"])
        if key not in latest or row_key(row)[1] >= row_key(latest[key])[1]:
            latest[key] = row
    return list(latest.values())


def _scheduled(row: Mapping[str, Any]) -> Any:
    return row["SCHEDULED_TIME"]


def _history_order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        str(row.get("RUN_ID")),
        int(row.get("ATTEMPT_NUMBER") or 1),
        _sortable(row.get("QUERY_START_TIME")),
    )


def _sortable(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


def graph_run_from_row(row: Mapping[str, Any]) -> GraphRun:
    """A CURRENT_TASK_GRAPHS / COMPLETE_TASK_GRAPHS row as the domain's GraphRun."""
    return GraphRun(
        graph_name=str(row["ROOT_TASK_NAME"]),
        run_id=str(row["RUN_ID"]),
        state=GraphRunState(str(row["STATE"])),
        scheduled_time=row["SCHEDULED_TIME"],
        attempt_number=int(row.get("ATTEMPT_NUMBER") or 1),
        scheduled_from=str(row.get("SCHEDULED_FROM") or ScheduledFrom.EXECUTE_TASK),
        query_start_time=row.get("QUERY_START_TIME"),
        completed_time=row.get("COMPLETED_TIME"),
        first_error_task_name=row.get("FIRST_ERROR_TASK_NAME"),
        first_error_message=row.get("FIRST_ERROR_MESSAGE"),
    )


def task_run_from_row(row: Mapping[str, Any]) -> TaskRun:
    """A TASK_HISTORY row as the domain's TaskRun."""
    return TaskRun(
        name=str(row["NAME"]),
        state=TaskState(str(row["STATE"])),
        return_value=row.get("RETURN_VALUE"),
        error_message=row.get("ERROR_MESSAGE"),
        attempt_number=int(row.get("ATTEMPT_NUMBER") or 1),
        query_start_time=row.get("QUERY_START_TIME"),
        completed_time=row.get("COMPLETED_TIME"),
        error_code=None if row.get("ERROR_CODE") is None else int(row["ERROR_CODE"]),
    )
