"""The child side of the stored-procedure emulation: run one handler as a Python stored procedure would.

Started by ``runner.run_in_procedure`` as ``python -I -S procedure.py REQUEST.json``, a fresh interpreter per
invocation, so neither ``site`` nor the project's editable-install ``.pth`` runs; ``sys.path`` is rebuilt here
from the request: the import zips, the interpreter's standard library and the installed third-party packages,
nothing else. This file imports only the standard library and the installed libraries (it is copied next to
the zips, outside the project) and writes one JSON report for its invocation; what a handler raises is
reported, not re-raised.

The session stand-in answers what ``snowflake.core.task.context.TaskContext`` asks (snowflake/core/task/context.py:
``session.call`` of SYSTEM$GET_TASK_GRAPH_CONFIG, system$current_user_task_name,
system$get_predecessor_return_value, system$set_return_value; ``session.sql("select to_char|to_timestamp(
system$task_runtime_info('…'))").collect()[0][0]``), plus statements the request scripts, and records everything.
The first statement nobody answered stops the body with ``ReachedBackend``: that is the body's first backend
call, which is what the emulation checks a body reaches.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import traceback
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any


class ReachedBackend(BaseException):
    """Raised at the first statement the emulation does not answer (a BaseException: ``except Exception`` and
    the adapters' error translation must not swallow it)."""


class Statements:
    """What the procedure's session was asked, in order, and the answers it may give."""

    def __init__(self, context: dict[str, Any], answers: list[tuple[str, list[dict[str, Any]]]]) -> None:
        self.context = context
        self.answers = [(re.compile(pattern, re.IGNORECASE | re.DOTALL), rows) for pattern, rows in answers]
        self.log: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self.return_values: list[str] = []

    def scripted(self, text: str) -> list[dict[str, Any]] | None:
        for pattern, rows in self.answers:
            if pattern.search(text):
                return rows
        return None

    def stop(self, text: str) -> ReachedBackend:
        self.log[-1]["answered"] = False
        return ReachedBackend(text)


# TaskContext.get_runtime_info selects to_char(...) or to_timestamp(...) of SYSTEM$TASK_RUNTIME_INFO('NAME');
# a caller may also format the value itself (to_char(<timestamp expression>, 'format')).
_RUNTIME_INFO = re.compile(r"system\$task_runtime_info\('(?P<name>[A-Z_]+)'\)", re.IGNORECASE)
_TO_CHAR_FORMAT = re.compile(r",\s*'(?P<format>[^']*)'\)\s*$")
# Snowflake's datetime format elements (https://docs.snowflake.com/sql-reference/functions-conversion), longest
# first; TIMESTAMP_OUTPUT_FORMAT's default is 'YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM'.
_FORMAT_ELEMENTS = (("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH24", "%H"), ("MI", "%M"), ("SS", "%S"))
_DEFAULT_TIMESTAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM"


def _to_char(when: datetime, snowflake_format: str) -> str:
    """``to_char(timestamp, format)`` for the elements above and FF0-9, TZH:TZM, TZHTZM."""
    text = snowflake_format
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign, minutes = ("-", -minutes) if minutes < 0 else ("+", minutes)
    text = text.replace("TZH:TZM", f"{sign}{minutes // 60:02d}:{minutes % 60:02d}")
    text = text.replace("TZHTZM", f"{sign}{minutes // 60:02d}{minutes % 60:02d}")
    text = re.sub(r"FF(\d)", lambda m: f"{when.microsecond:06d}000"[: int(m.group(1))], text)
    for element, directive in _FORMAT_ELEMENTS:
        text = text.replace(element, directive)
    return when.strftime(text)


def _rows(rows: list[dict[str, Any]]) -> list[Any]:
    from snowflake.snowpark import Row

    return [Row(**row) for row in rows]


class _DataFrame:
    """``session.sql(...)``: nothing runs until ``collect`` (as in Snowpark, where the statement executes then)."""

    def __init__(self, owner: ProcedureSession, query: str, params: Any) -> None:
        self._owner = owner
        self._query = query
        self._params = params

    def collect(self, *args: Any, **kwargs: Any) -> list[Any]:
        return _rows(self._owner._answer("sql", self._query, self._params))


class _FileOperation:
    """``session.file``: uploads are recorded (zip uploads with their member names), never stored."""

    def __init__(self, statements: Statements) -> None:
        self._s = statements

    def _record(self, kind: str, target: str, data: bytes, source: str | None, overwrite: bool) -> None:
        entry: dict[str, Any] = {
            "kind": kind,
            "target": target,
            "source": source,
            "overwrite": overwrite,
            "size": len(data),
            "data": base64.b64encode(data).decode(),
        }
        if zipfile.is_zipfile(io.BytesIO(data)):
            entry["zip_members"] = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
        self._s.uploads.append(entry)
        self._s.log.append({"kind": f"file.{kind}", "text": target, "answered": True})

    # Snowpark's defaults: put(overwrite=False), put_stream(overwrite=False) (snowflake/snowpark/file_operation.py)
    def put(
        self, local_file_name: str, stage_location: str, *, overwrite: bool = False, **kwargs: Any
    ) -> list[Any]:
        path = Path(local_file_name)
        target = f"{stage_location.rstrip('/')}/{path.name}"
        self._record("put", target, path.read_bytes(), str(path), overwrite)
        return []

    def put_stream(
        self, input_stream: Any, stage_location: str, *, overwrite: bool = False, **kwargs: Any
    ) -> Any:
        # The whole stream, wherever it stands: Snowpark rewinds it before uploading
        # (snowflake/snowpark/_internal/server_connection.py ServerConnection.upload_stream: seek(0)).
        input_stream.seek(0)
        self._record("put_stream", stage_location, input_stream.read(), None, overwrite)
        return None


class _Cursor:
    """The connector cursor Snowpark exposes as ``session._conn._cursor`` (snowflake.ml reads ``description``
    after ``run_query`` and binds with ``_preprocess_pyformat_query``: snowflake/ml/jobs/_utils/query_helper.py,
    snowflake/ml/jobs/job_definition.py ``MLJobDefinition.to_sql``)."""

    def __init__(self, statements: Statements) -> None:
        self._s = statements
        self.description: list[Any] = []

    def _preprocess_pyformat_query(self, command: str, params: Any = None) -> str:
        # Client-side binding as snowflake/connector/connection.py _process_single_param does it; the values
        # are recorded as given, so a test can read them without parsing SQL literals.
        from snowflake.connector.converter import SnowflakeConverter

        self._s.log.append({"kind": "bind", "text": command, "params": _jsonable(params), "answered": True})

        converter = SnowflakeConverter()
        if params is None:
            return command
        return command % tuple(converter.quote(converter.escape(converter.to_snowflake(p))) for p in params)


class _Connection:
    """``session._conn`` (snowflake/snowpark/_internal/server_connection.py ``ServerConnection.run_query``
    returns ``{"data": [...], "sfqid": ...}`` and leaves the metadata on the cursor)."""

    def __init__(self, owner: ProcedureSession) -> None:
        self._owner = owner
        self._cursor = _Cursor(owner.recorded)

    def run_query(self, query: str, params: Any = None, **kwargs: Any) -> dict[str, Any]:
        from snowflake.connector.cursor import ResultMetadata

        rows = self._owner._answer("run_query", query, params)
        columns = list(rows[0]) if rows else []
        # type_code 2 is TEXT (snowflake/connector/constants.py FIELD_TYPES)
        self._cursor.description = [ResultMetadata(c, 2, None, None, None, None, True) for c in columns]
        return {"data": [list(row.values()) for row in rows], "sfqid": f"emulated-{len(self._owner._s.log)}"}


class _Conf:
    def get(self, key: str, default: Any = None) -> Any:
        return default


class ProcedureSession:
    """The stored procedure's Snowpark session, as far as task bodies use it before their first backend call."""

    def __init__(self, statements: Statements) -> None:
        self._s = statements
        self.recorded = statements  # what tests read: .log, .uploads, .return_values
        self.file = _FileOperation(statements)
        self._conn = _Connection(self)
        self.conf = _Conf()

    def _answer(self, kind: str, text: str, params: Any) -> list[dict[str, Any]]:
        self._s.log.append({"kind": kind, "text": text, "params": _jsonable(params), "answered": True})
        match = _RUNTIME_INFO.search(text)
        if match and text.strip().lower().startswith("select"):
            return [{"VALUE": self._runtime_info(match.group("name"), text)}]
        own = self._own_history_row(text)
        if own is not None:
            return [own]
        rows = self._s.scripted(text)
        if rows is None:
            raise self._s.stop(text)
        return rows

    def _own_history_row(self, text: str) -> dict[str, Any] | None:
        """The running task's own TASK_HISTORY row in its run group (EXECUTING while it runs), which
        SnowflakeTaskRuntime.graph_run_id reads the RUN_ID from; None for any other statement."""
        ctx = self._s.context
        own = ctx["task_name"].rsplit(".", 1)[-1]
        if "TASK_HISTORY(" not in text.upper() or not text.rstrip().endswith(f"NAME = '{own}'"):
            return None
        if f"= '{ctx['run_group_id']}'" not in text:
            return None
        run_id = int(datetime.fromisoformat(ctx["scheduled_time"]).timestamp() * 1000)
        return {
            "NAME": own,
            "STATE": "EXECUTING",
            "RUN_ID": run_id,
            "ATTEMPT_NUMBER": 1,
            "QUERY_START_TIME": None,
        }

    def _runtime_info(self, name: str, text: str) -> Any:
        """One SYSTEM$TASK_RUNTIME_INFO property, shaped as the select around it asks."""
        ctx = self._s.context
        values: dict[str, Any] = {
            "CURRENT_ROOT_TASK_NAME": ctx["root_task_name"],
            "CURRENT_ROOT_TASK_UUID": ctx["root_uuid"],
            "CURRENT_TASK_GRAPH_RUN_GROUP_ID": ctx["run_group_id"],
            "CURRENT_TASK_GRAPH_ORIGINAL_SCHEDULED_TIMESTAMP": datetime.fromisoformat(ctx["scheduled_time"]),
        }
        if name.upper() not in values:
            raise self._s.stop(text)
        value = values[name.upper()]
        if not isinstance(value, datetime):
            return value
        if re.match(r"^select\s+to_char\(", text.strip(), re.IGNORECASE):
            fmt = _TO_CHAR_FORMAT.search(text.strip())
            return _to_char(value, fmt.group("format") if fmt else _DEFAULT_TIMESTAMP_FORMAT)
        # to_timestamp is TO_TIMESTAMP_NTZ by default: the wall clock (here in UTC), without a zone
        return value.replace(tzinfo=None)

    def sql(self, query: str, params: Any = None, **kwargs: Any) -> _DataFrame:
        return _DataFrame(self, query, params)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        text = f"CALL {name}({', '.join(repr(a) for a in args)})"
        self._s.log.append({"kind": "call", "text": text, "params": _jsonable(list(args)), "answered": True})
        ctx = self._s.context
        key = name.lower()
        if key == "system$get_task_graph_config":
            return json.dumps(ctx["graph_config"])
        if key == "system$current_user_task_name":
            return ctx["task_name"]
        if key == "system$get_predecessor_return_value" and args:
            # TaskContext passes the full name "ROOT$TASK" (its _get_root_prefix); values are keyed by that.
            values = ctx["predecessor_values"]
            if args[0] in values:
                return values[args[0]]
        if key == "system$set_return_value" and args:
            self._s.return_values.append(str(args[0]))
            return None
        raise self._s.stop(text)

    def get_current_database(self) -> str | None:
        return self._s.context["database"]

    def get_current_schema(self) -> str | None:
        return self._s.context["schema"]

    def get_current_warehouse(self) -> str | None:
        return self._s.context["warehouse"]

    def get_current_role(self) -> str | None:
        return self._s.context["role"]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _inside(module_file: str | None, zips: list[str]) -> str | None:
    """The zip a module was imported from, or None."""
    if not module_file:
        return None
    return next((z for z in zips if module_file.startswith(z + "/")), None)


PROCESSES_UNSUPPORTED = "Creating processes is not supported in stored procedures"


def _sandbox() -> None:
    """Creating processes is not supported in Python procedures (Snowflake docs, "Python stored procedure
    limitations"): here it fails too, so the emulation is not more permissive than Snowflake."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(PROCESSES_UNSUPPORTED)

    subprocess.Popen.__init__ = refuse  # type: ignore[method-assign]
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve"):
        if hasattr(os, name):
            setattr(os, name, refuse)


def _finder_name(finder: Any) -> str:
    # meta_path holds classes (BuiltinImporter, PathFinder) and instances (e.g. an editable install's finder)
    qualname = getattr(finder, "__qualname__", type(finder).__qualname__)
    return f"{getattr(finder, '__module__', '?')}.{qualname}"


def _invoke(invocation: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    statements = Statements(invocation["context"], [(p, rows) for p, rows in invocation["answers"]])
    try:
        namespace: dict[str, Any] = {"__name__": "__sproc_handler__"}
        exec(compile(invocation["handler_source"], "<stored procedure handler>", "exec"), namespace)
        try:
            report["result"] = _jsonable(namespace[invocation["handler_name"]](ProcedureSession(statements)))
            report["outcome"] = "returned"
        except ReachedBackend as stop:
            report["outcome"] = "reached_backend"
            report["first_unanswered"] = str(stop)
    except Exception:
        report["outcome"] = "raised"
        report["error"] = traceback.format_exc()
    report["statements"] = statements.log
    report["uploads"] = statements.uploads
    report["return_values"] = statements.return_values
    return report


def main(request_path: str) -> None:
    request = json.loads(Path(request_path).read_text())
    zips: list[str] = request["zips"]
    # The interpreter's own standard library (what -I -S leaves), then the zips and the installed packages.
    sys.path[:] = [*zips, *sys.path, *request["site_packages"]]
    # Snowflake's Python runtime names the folder holding the imports so (Snowflake docs: "Reading files
    # with a UDF handler", sys._xoptions["snowflake_import_directory"]).
    sys._xoptions["snowflake_import_directory"] = request["import_directory"] + "/"
    _sandbox()
    report = _invoke(request["invocation"])
    report["module_files"] = {
        name: {"file": getattr(sys.modules.get(name), "__file__", None)} for name in request["packages"]
    }
    for entry in report["module_files"].values():
        entry["zip"] = _inside(entry["file"], zips)
    # Checked here, where it happened: a project package imported from anywhere but the zips fails the call.
    outside = {n: e["file"] for n, e in report["module_files"].items() if e["file"] and not e["zip"]}
    if outside:
        report["outcome"] = "raised"
        report["error"] = f"imported from outside the procedure's zips: {outside}"
    report["sys_path"] = list(sys.path)
    report["meta_path"] = [_finder_name(finder) for finder in sys.meta_path]
    Path(request["report_path"]).write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
