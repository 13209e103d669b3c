"""A loopback HTTP server for snowflake.core's task REST API, with an in-memory task store.

The real ``snowflake.core.Root(session)`` talks to it once the session's connection points ``rest`` at
``server.url`` (see ``connection.py``). Endpoints, methods and query parameters are the generated client's
(snowflake/core/task/_generated/api/task_api.py):

====== ==================================================================== =================================
POST   /api/v2/databases/{db}/schemas/{schema}/tasks?createMode=…           ``create_task`` (body: Task)
GET    /api/v2/databases/{db}/schemas/{schema}/tasks?rootOnly&like&…        ``list_tasks``
GET    …/tasks/{name}                                                       ``fetch_task``
GET    …/tasks/{name}/dependents?recursive=…                                ``fetch_task_dependents``
POST   …/tasks/{name}:resume | :suspend | :execute?retryLast=…              ``resume/suspend/execute_task``
DELETE …/tasks/{name}?ifExists=…                                            ``delete_task``
====== ==================================================================== =================================

Every request body is validated with snowflake.core's own generated model
(``snowflake.core.task._generated.models.task.Task.from_dict``, pydantic) and, since ``from_dict`` silently
drops keys it does not know, keys outside ``Task.model_fields`` are refused too: 400 with an ErrorResponse
body (snowflake/core/task/_generated/models/error_response.py: message, code, error_code, request_id).
Missing tasks are 404 (snowflake/core/_generated/rest.py turns it into ``NotFoundError``), an existing one
under ``errorIfExists`` is 409 (``ConflictError``). Snowflake's identifier rules apply to names: unquoted
names are stored upper-cased, quoted ones as written. A predecessor or finalized root that does not exist
is refused as Snowflake refuses ``CREATE TASK … AFTER missing``: 404 with SQL error 002003.

Public API:

- ``TaskRestServer()`` / ``start()`` / ``stop()`` / ``url``; ``with TaskRestServer() as server: …``
- ``server.requests``: every request as ``RestRequest(method, path, query, body)`` (path decoded);
  ``server.request_lines()`` renders them one per line for golden files (``normalise`` hides volatile parts).
- ``server.tasks``: ``{(db, schema, stored name): dict}`` as Snowflake would report each task.
- ``server.fail_next(method, path_regex, status, message, error_code=…)``: the next matching request is
  answered with that error instead (a server-side 4xx/5xx for failure tests).
- ``server.clear_requests()``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import ValidationError
from snowflake.core.task._generated.models.task import Task as TaskModel

_TASKS = re.compile(r"^/api/v2/databases/(?P<db>[^/]+)/schemas/(?P<schema>[^/]+)/tasks(?P<rest>.*)$")
_ONE = re.compile(r"^/(?P<name>[^/:]+)(?P<suffix>/dependents|:resume|:suspend|:execute)?$")
_READ_ONLY = {
    "task_relations",
    "created_on",
    "id",
    "owner",
    "owner_role_type",
    "state",
    "last_committed_on",
    "last_suspended_on",
    "database_name",
    "schema_name",
}
_SQL_OBJECT_MISSING = "002003"


def stored_name(identifier: str) -> str:
    """Snowflake's identifier resolution: ``"Quoted"`` keeps its case (without quotes), unquoted upper-cases."""
    if len(identifier) >= 2 and identifier.startswith('"') and identifier.endswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.upper()


def _sql_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Z_][A-Z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class RestRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: dict[str, Any] | None = None

    def line(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}{'?' + query if query else ''}"


class _HttpError(Exception):
    def __init__(self, status: int, message: str, error_code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code or str(status)


@dataclass
class _Failure:
    method: str
    path: re.Pattern[str]
    status: int
    message: str
    error_code: str


@dataclass
class TaskRestServer:
    """See the module docstring."""

    requests: list[RestRequest] = field(default_factory=list)
    tasks: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    _failures: list[_Failure] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: int = 0

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> TaskRestServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="task-rest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> TaskRestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the task REST server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- test controls -----------------------------------------------------------------------------------

    def fail_next(self, method: str, path: str, status: int, message: str, error_code: str = "") -> None:
        """Answer the next ``method`` request whose decoded path matches ``path`` (regex) with an error."""
        self._failures.append(_Failure(method.upper(), re.compile(path), status, message, error_code))

    def clear_requests(self) -> None:
        self.requests.clear()

    def request_lines(self, normalise: Callable[[str], str] = lambda s: s) -> list[str]:
        return [normalise(r.line()) for r in self.requests]

    def task_names(self, db: str, schema: str) -> list[str]:
        key = (stored_name(db), stored_name(schema))
        return sorted(name for (d, s, name) in self.tasks if (d, s) == key)

    # --- request handling --------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, Any]:
        split = urlsplit(raw_path)
        path = unquote(split.path)
        query = tuple(parse_qsl(split.query, keep_blank_values=True))
        parsed = json.loads(body) if body else None
        with self._lock:
            self.requests.append(RestRequest(method, path, query, parsed))
            try:
                for failure in self._failures:
                    if failure.method == method and failure.path.search(path):
                        self._failures.remove(failure)
                        raise _HttpError(failure.status, failure.message, failure.error_code)
                return self._route(method, path, dict(query), parsed)
            except _HttpError as e:
                self._ids += 1
                return e.status, {
                    "message": e.message,
                    "code": e.error_code,
                    "error_code": e.error_code,
                    "request_id": f"offline-{self._ids}",
                }

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        m = _TASKS.match(path)
        if m is None:
            raise _HttpError(400, f"the offline server serves no {method} {path}")
        db, schema, rest = stored_name(m["db"]), stored_name(m["schema"]), m["rest"]
        if rest == "":
            if method == "POST":
                return self._create(db, schema, body, query.get("createMode", "errorIfExists"))
            if method == "GET":
                return 200, self._list(db, schema, query)
        one = _ONE.match(rest)
        if one is not None:
            name, suffix = stored_name(one["name"]), one["suffix"] or ""
            handlers: dict[tuple[str, str], Callable[[], tuple[int, Any]]] = {
                ("GET", ""): lambda: (200, self._get(db, schema, name)),
                ("GET", "/dependents"): lambda: (200, self._dependents(db, schema, name)),
                ("POST", ":resume"): lambda: self._set_state(db, schema, name, "started"),
                ("POST", ":suspend"): lambda: self._set_state(db, schema, name, "suspended"),
                ("POST", ":execute"): lambda: self._execute(db, schema, name),
                ("DELETE", ""): lambda: self._drop(db, schema, name, query.get("ifExists") == "true"),
            }
            if (method, suffix) in handlers:
                return handlers[(method, suffix)]()
        raise _HttpError(400, f"the offline server serves no {method} {path}")

    def _create(self, db: str, schema: str, body: Any, mode: str) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _HttpError(400, "the request body must be a Task object")
        unknown = sorted(set(body) - set(TaskModel.model_fields))
        if unknown:
            raise _HttpError(400, f"unrecognized fields in Task: {unknown}")
        try:
            model = TaskModel.from_dict(body)
        except ValidationError as e:
            raise _HttpError(400, f"invalid Task: {e}") from None
        if mode not in ("errorIfExists", "orReplace", "ifNotExists"):
            raise _HttpError(400, f"invalid createMode {mode!r}")
        name = stored_name(model.name)
        key = (db, schema, name)
        if key in self.tasks:
            if mode == "errorIfExists":
                raise _HttpError(409, f"Object '{name}' already exists.", "002002")
            if mode == "ifNotExists":
                return 200, {"status": f"{name} already exists, statement succeeded."}
        predecessors = [self._existing(db, schema, p) for p in model.predecessors or []]
        root = self._existing(db, schema, model.finalize) if model.finalize else None
        self._ids += 1
        stored = {
            k: v for k, v in model.to_dict(hide_readonly_properties=True).items() if k not in _READ_ONLY
        }
        stored.update(
            name=name,
            predecessors=[f"{db}.{schema}.{_sql_name(p)}" for p in predecessors] or None,
            finalize=root,
            state="suspended",
            id=f"01offline-task-{self._ids}",
            owner="DEMO_ROLE",
            owner_role_type="ROLE",
            created_on=datetime.now(UTC).isoformat(),
            database_name=db,
            schema_name=schema,
        )
        self.tasks[key] = {k: v for k, v in stored.items() if v is not None}
        if root is not None:
            self.tasks[(db, schema, root)]["task_relations"] = json.dumps(
                {"Predecessors": [], "FinalizerTask": f"{db}.{schema}.{_sql_name(name)}"}
            )
        return 200, {"status": f"Task {name} successfully created."}

    def _existing(self, db: str, schema: str, identifier: str) -> str:
        name = stored_name(identifier.rsplit(".", 1)[-1])
        if (db, schema, name) not in self.tasks:
            raise _HttpError(
                404, f"Task '{db}.{schema}.{name}' does not exist or not authorized.", _SQL_OBJECT_MISSING
            )
        return name

    def _get(self, db: str, schema: str, name: str) -> dict[str, Any]:
        try:
            return self.tasks[(db, schema, name)]
        except KeyError:
            raise _HttpError(
                404, f"Task '{db}.{schema}.{name}' does not exist or not authorized.", _SQL_OBJECT_MISSING
            ) from None

    def _list(self, db: str, schema: str, query: dict[str, str]) -> list[dict[str, Any]]:
        like = query.get("like")
        pattern = (
            re.compile("^" + re.escape(like).replace("%", ".*").replace("_", ".") + "$", re.IGNORECASE)
            if like
            else None
        )
        out = []
        for (d, s, name), task in sorted(self.tasks.items()):
            if (d, s) != (db, schema) or (pattern is not None and not pattern.match(name)):
                continue
            if query.get("rootOnly") == "true" and (task.get("predecessors") or task.get("finalize")):
                continue
            out.append(task)
        return out

    def _children(self, db: str, schema: str, name: str) -> list[str]:
        suffix = f".{_sql_name(name)}"
        return sorted(
            n
            for (d, s, n), t in self.tasks.items()
            if (d, s) == (db, schema) and any(p.endswith(suffix) for p in t.get("predecessors") or [])
        )

    def _dependents(self, db: str, schema: str, name: str) -> list[dict[str, Any]]:
        # The task itself first, then its dependents breadth-first, and a root's finalizer last
        # (dagv1 DAGOperation.drop walks this list in reverse and recognises the finalizer by name).
        self._get(db, schema, name)
        order, queue = [name], [name]
        while queue:
            for child in self._children(db, schema, queue.pop(0)):
                if child not in order:
                    order.append(child)
                    queue.append(child)
        finalizers = [
            n for (d, s, n), t in self.tasks.items() if (d, s) == (db, schema) and t.get("finalize") == name
        ]
        return [self.tasks[(db, schema, n)] for n in order + finalizers]

    def _set_state(self, db: str, schema: str, name: str, state: str) -> tuple[int, Any]:
        self._get(db, schema, name)["state"] = state
        return 200, {"status": f"Statement executed successfully ({name} {state})."}

    def _execute(self, db: str, schema: str, name: str) -> tuple[int, Any]:
        self._get(db, schema, name)
        return 200, {"status": f"Task {name} is scheduled to run immediately."}

    def _drop(self, db: str, schema: str, name: str, if_exists: bool) -> tuple[int, Any]:
        if (db, schema, name) not in self.tasks:
            if if_exists:
                return 200, {"status": "Drop statement executed successfully (task already dropped)."}
            self._get(db, schema, name)
        del self.tasks[(db, schema, name)]
        suffix = f".{_sql_name(name)}"
        for task in self.tasks.values():
            # Dropping a predecessor removes the edge (Snowflake: the child becomes standalone or keeps others).
            preds = [p for p in task.get("predecessors") or [] if not p.endswith(suffix)]
            if preds != (task.get("predecessors") or []):
                task["predecessors"] = preds
            if task.get("finalize") == name:
                task.pop("finalize")
            if task.get("task_relations") and json.loads(task["task_relations"]).get(
                "FinalizerTask", ""
            ).endswith(suffix):
                task.pop("task_relations")
        return 200, {"status": f"{name} successfully dropped."}


def _handler_for(server: TaskRestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if not self.headers.get("Authorization", "").startswith("Snowflake Token="):
                status, payload = 401, {"message": "missing session token", "code": "390101"}
            else:
                status, payload = server.handle(self.command, self.path, body)
            data = json.dumps(payload, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are recorded in ``server.requests``; nothing goes to stderr."""

    return Handler
