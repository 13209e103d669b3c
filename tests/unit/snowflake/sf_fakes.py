"""Recording fakes of the snowflake.core task resources and of a Snowpark session's SQL, for offline tests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from snowflake.core.exceptions import NotFoundError
from snowflake.core.task import Task


class FakeTaskResource:
    def __init__(self, collection: FakeTaskCollection, name: str) -> None:
        self._c = collection
        self.name = name

    def _task(self) -> Task:
        if self.name not in self._c.tasks:
            raise NotFoundError(root=None)  # type: ignore[arg-type]
        return self._c.tasks[self.name]

    def fetch(self) -> Task:
        self._c.calls.append(("fetch", self.name))
        task = self._task()
        task.state = self._c.states[self.name]
        if self.name == self._c.root and self._c.finalizer:
            task.task_relations = json.dumps({"FinalizerTask": f"DB.SCH.{self._c.finalizer}"})
        return task

    def resume(self) -> None:
        self._c.calls.append(("resume", self.name))
        self._task()
        self._c.states[self.name] = "started"

    def suspend(self) -> None:
        self._c.calls.append(("suspend", self.name))
        self._task()
        self._c.states[self.name] = "suspended"

    def drop(self) -> None:
        self._c.calls.append(("drop", self.name))
        self._task()
        del self._c.tasks[self.name]

    def execute(self, *, retry_last: bool = False) -> None:
        self._c.calls.append(("execute", self.name, retry_last))
        self._task()
        if self._c.on_execute:
            self._c.on_execute(self.name, retry_last)

    def fetch_task_dependents(self) -> list[Task]:
        self._c.calls.append(("fetch_task_dependents", self.name))
        self._task()
        return list(self._c.tasks.values())  # the root first, as Snowflake lists it


class FakeTaskCollection:
    """Records every call; created tasks are the low-level ``Task`` objects dagv1 produced."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.tasks: dict[str, Task] = {}
        self.states: dict[str, str] = {}
        self.root: str | None = None
        self.finalizer: str | None = None
        self.on_execute: Callable[[str, bool], None] | None = None

    def create(self, task: Task, *, mode: Any = "errorIfExists") -> FakeTaskResource:
        self.calls.append(("create", task.name, str(getattr(mode, "value", mode))))
        if task.name in self.tasks and str(getattr(mode, "value", mode)) != "orReplace":
            raise AssertionError(f"conflict on {task.name}")
        if self.root is None or (task.predecessors is None and task.finalize is None):
            self.root = self.root or task.name
        if task.finalize:
            self.finalizer = task.name
        self.tasks[task.name] = task
        self.states[task.name] = "suspended"
        return FakeTaskResource(self, task.name)

    def __getitem__(self, name: str) -> FakeTaskResource:
        return FakeTaskResource(self, name)

    def clear_calls(self) -> None:
        self.calls.clear()


class _Telemetry:
    def safe_send(self, event: object) -> None:
        """DAGOperation reports usage through ``schema.root._telemetry_client``; offline, nothing is sent."""


class _Root:
    _telemetry_client = _Telemetry()


class FakeSchema:
    def __init__(self) -> None:
        self.tasks = FakeTaskCollection()
        self.root = _Root()


class FakeResult:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def collect(self) -> list[dict[str, Any]]:
        return self._rows


class ScriptedSession:
    """A Snowpark-session stand-in: ``sql(text)`` answers from the first matching (pattern, rows-or-callable)."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.bound: list[list[Any] | None] = []
        self.answers: list[tuple[re.Pattern[str], Any]] = []

    def answer(self, pattern: str, rows: Any) -> None:
        self.answers.insert(0, (re.compile(pattern, re.IGNORECASE | re.DOTALL), rows))

    def sql(self, text: str, params: list[Any] | None = None) -> FakeResult:
        self.queries.append(text)
        self.bound.append(params)
        for pattern, rows in self.answers:
            if pattern.search(text):
                return FakeResult(rows() if callable(rows) else rows)
        return FakeResult([])
