"""A recording stand-in for the connector's ``SnowflakeConnection``, under a real Snowpark ``Session``.

Snowpark's ``Session(ServerConnection(options, conn))`` (snowflake/snowpark/session.py ``Session.__init__``,
snowflake/snowpark/_internal/server_connection.py ``ServerConnection.__init__``) accepts an already-open
connector connection and then talks to it only through a small surface, which is what this module provides:

- ``ServerConnection.__init__`` reads ``conn._session_parameters`` and builds its ``TelemetryClient(conn)``
  (snowflake/snowpark/_internal/telemetry.py, which reads ``conn._telemetry``; ``None`` sends nothing);
  ``get_session_id`` reads ``conn.session_id``; ``_get_current_parameter`` reads ``conn.database`` etc. and
  otherwise runs ``SELECT CURRENT_<X>()``; ``is_closed`` / ``close`` are forwarded.
- ``ServerConnection._cursor`` is ``conn.cursor()``; queries go through ``cursor.execute(sql, params=…,
  _statement_params=…, file_stream=…)`` (``execute_and_notify_query_listener``), results are read with
  ``cursor.fetchall()`` (``_json_fallback``) and ``cursor.description`` (``analyzer/schema_utils.py
  get_new_description``, a list of the connector's ``ResultMetadata``), and describes with
  ``cursor._describe_internal(sql, params=…)`` (``schema_utils.run_new_describe``).
- Uploads are ``PUT file:///tmp/placeholder/<name> '@stage/prefix' …`` executed with ``file_stream=`` (the
  bytes; ``ServerConnection.upload_stream``); that is how ``sproc.register`` ships the pickled handler and
  the zip of each directory import (``udf_utils.resolve_imports_and_packages`` → ``Session._resolve_imports``).
- ``snowflake.core.Root(session)`` uses ``session._conn._conn`` (this object): ``conn.rest._host``,
  ``_port``, ``_protocol`` give its REST base URL (snowflake/core/_generated/api_client.py
  ``ApiClient.get_host``), ``conn.rest.token`` its ``Authorization: Snowflake Token="…"`` header
  (snowflake/core/_http_requests.py ``get_session_headers``), ``conn._telemetry`` its telemetry, and it runs
  ``SELECT SYSTEM$CLIENT_VERSION_INFO()`` through ``conn.cursor()`` (``Root._query_for_client_info``: not a
  real ``SnowflakeCursor``, so the answer is ignored).

Public API (used by the deploy tests, the stored-procedure emulation and ``doctor``):

- ``RecordingConnection(rest_url=None, database=…, schema=…, warehouse=…, role=…)``
- ``conn.answer(pattern, rows, columns=…)``: add a rule; the newest matching rule answers a statement
  (``re.search``, case-insensitive). ``rows`` is a list of tuples, or a callable ``(sql, params) -> rows``;
  raising from the callable makes the statement fail with that exception (e.g. a connector
  ``ProgrammingError`` with ``errno``). Statements no rule matches get an empty result.
- ``conn.answer_packages({name: [versions]})``: what ``information_schema.packages`` serves.
- ``conn.statements``: every executed statement as ``Statement(sql, params)``, in order (describes are in
  ``conn.describes``); ``conn.uploads``: ``{stage path: bytes}`` of every PUT with a stream, where the stage
  path is ``@STAGE/prefix/file`` as Snowpark addressed it; ``conn.upload_log`` keeps them in order.
- ``recording_session(conn)``: a real ``snowflake.snowpark.Session`` over ``conn``.

The stage is what was PUT: ``ls @stage[/path]`` (or ``list``) lists the recorded uploads under it,
``REMOVE @stage/path/`` (or ``rm``) deletes them, and
``SELECT … FROM TABLE(RESULT_SCAN('<query id>'))`` reads back the result of an earlier statement. Snowpark
lists the import stage before it uploads a procedure's imports and skips every zip already there
(snowflake/snowpark/session.py ``Session._resolve_imports`` / ``_list_files_in_stage``), so a redeploy of
unchanged code uploads nothing, as on a real stage.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlparse

from snowflake.connector.constants import FIELD_NAME_TO_ID
from snowflake.connector.cursor import ResultMetadata
from snowflake.connector.errors import NotSupportedError, ProgrammingError

Rows = list[tuple[Any, ...]]
Answer = Rows | Callable[[str, Sequence[Any] | None], Rows]

# The account's Anaconda channel as the deploy tests see it; versions as listed by
# information_schema.packages (VERSION column). Pins in DEPLOY_PACKAGES must be among these.
DEFAULT_PACKAGES: dict[str, list[str]] = {
    "snowflake-snowpark-python": ["1.55.0", "1.56.0"],
    "snowflake-ml-python": ["2.5.1", "2.6.0"],
    "snowflake.core": ["1.13.0", "1.14.0"],
    "xgboost": ["3.1.1", "3.2.0"],
    "numpy": ["2.3.5", "2.4.1"],
    "cloudpickle": ["3.0.0", "3.1.1"],
}


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Upload:
    stage_path: str  # @STAGE/prefix/file, as the PUT addressed it
    data: bytes


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    answer: Answer
    columns: tuple[tuple[str, str], ...]


# LIST's output columns (https://docs.snowflake.com/en/sql-reference/sql/list): the name is the stage's name
# (lower-case) and the file's path under it; md5 is the hex MD5 of the file as stored (uploads here are
# stored as PUT, AUTO_COMPRESS = FALSE). Snowpark reads only "name" and strips the stage prefix
# (session.py _list_files_in_stage, _internal/utils.py get_stage_file_prefix_length); the file names it
# compares carry the sha256 of the zipped content as their folder (Session._resolve_import_path).
_LIST_COLUMNS = (("name", "TEXT"), ("size", "FIXED"), ("md5", "TEXT"), ("last_modified", "TEXT"))
_LAST_MODIFIED = "Tue, 10 Feb 2026 09:28:49 GMT"  # LIST's format; one fixed time, nothing reads it
_LIST = re.compile(r"^\s*(?:ls|list)\s+'?(?P<location>@[^'\s]+)'?", re.IGNORECASE)
# REMOVE's output columns (https://docs.snowflake.com/en/sql-reference/sql/remove): each removed file and "removed"
_REMOVE = re.compile(r"^\s*(?:remove|rm)\s+'?(?P<location>@[^'\s]+)'?\s*$", re.IGNORECASE)
_REMOVE_COLUMNS = (("name", "TEXT"), ("result", "TEXT"))
# Snowpark selects from the listing as SELECT "name" FROM ( SELECT * FROM TABLE ( RESULT_SCAN('<id>')))
# (analyzer_utils.py result_scan_statement, wrapped by the select's projection)
_RESULT_SCAN = re.compile(
    r"^\s*SELECT\s+(?P<columns>.+?)\s+FROM\s+\(\s*SELECT\s+\*\s+FROM\s+TABLE\s*\(\s*"
    r"RESULT_SCAN\(\s*'(?P<query_id>[^']+)'\s*\)\s*\)\s*\)\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _column(name: str, type_name: str) -> ResultMetadata:
    # snowflake/connector/cursor.py ResultMetadata; type codes from snowflake/connector/constants.py FIELD_TYPES
    return ResultMetadata(name, FIELD_NAME_TO_ID[type_name], None, None, None, None, True)


@dataclass
class RestTarget:
    """``conn.rest`` as snowflake.core reads it (``_host``/``_port``/``_protocol``, ``token``)."""

    _host: str | None = None
    _port: int | None = None
    _protocol: str = "http"
    token: str = "offline-session-token"
    master_token: str = "offline-master-token"

    def _renew_session(self) -> None:
        """snowflake.core calls this after a 401 that says the token expired; ours never expires."""


class RecordingCursor:
    """The cursor surface Snowpark uses (see the module docstring for the call sites)."""

    _query_result_format = "json"

    def __init__(self, connection: RecordingConnection) -> None:
        self.connection = connection
        self.sfqid: str | None = None
        self._request_id: str | None = None  # server_connection.py execute_and_notify_query_listener
        self.query: str | None = None
        self.description: list[ResultMetadata] = []
        self._rows: Rows = []

    def execute(
        self,
        command: str,
        params: Sequence[Any] | None = None,
        _statement_params: dict[str, Any] | None = None,
        file_stream: IO[bytes] | None = None,
        **_kwargs: Any,
    ) -> RecordingCursor:
        self.query = command
        self.sfqid = self._request_id = self.connection._next_query_id()
        self.connection.statements.append(Statement(command, None if params is None else tuple(params)))
        if file_stream is not None:
            self._rows, self.description = self.connection._put(command, file_stream)
        else:
            self._rows, self.description = self.connection._answer(command, params)
        self.connection._results[self.sfqid] = (list(self._rows), list(self.description))
        return self

    def _describe_internal(self, command: str, params: Sequence[Any] | None = None) -> list[ResultMetadata]:
        self.connection.describes.append(Statement(command, None if params is None else tuple(params)))
        return self.connection._answer(command, params, describe_only=True)[1]

    def fetchall(self) -> Rows:
        rows, self._rows = self._rows, []
        return rows

    def fetch_pandas_all(self, **_kwargs: Any) -> Any:
        """As the connector's cursor does for a JSON result (snowflake/connector/cursor.py ``fetch_pandas_all``):
        Snowpark's ``to_pandas`` then builds the frame from ``fetchall`` (server_connection.py ``_to_data_or_iter``)."""
        raise NotSupportedError

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def __iter__(self) -> Any:
        return iter(self.fetchall())

    def close(self) -> None:
        """Nothing to release."""


class RecordingConnection:
    """Records statements and uploads and answers from rules; see the module docstring."""

    def __init__(
        self,
        *,
        rest_url: str | None = None,
        database: str = "SNOWBANK",
        schema: str = "DEV",
        warehouse: str = "DEMO_WH",
        role: str = "ENGINEER",
        packages: dict[str, list[str]] | None = None,
    ) -> None:
        self.database = database
        self.schema = schema
        self.warehouse = warehouse
        self.role = role
        self.account = "OFFLINE"
        self.user = "OFFLINE_USER"
        self.session_id = 4242
        self._session_parameters: dict[str, Any] = {}
        self._telemetry = None  # Snowpark's and snowflake.core's telemetry clients send nothing then
        self.rest = RestTarget()
        if rest_url is not None:
            self.point_rest_at(rest_url)
        self.statements: list[Statement] = []
        self.describes: list[Statement] = []
        self.upload_log: list[Upload] = []
        self._results: dict[str, tuple[Rows, list[ResultMetadata]]] = {}  # query id -> its result
        self._rules: list[_Rule] = []
        self._ids = itertools.count(1)
        self._closed = False
        self.answer(
            r"^\s*SELECT\s+CURRENT_(DATABASE|SCHEMA|WAREHOUSE|ROLE)\(\)\s*$", self._current, [("C", "TEXT")]
        )
        self.answer(r"SYSTEM\$GET_DEFAULT_PYTHON_ARTIFACT_REPOSITORY", [(None,)], [("R", "TEXT")])
        self.answer(r"system\$are_anaconda_terms_acknowledged", [(True,)], [("A", "BOOLEAN")])
        self.answer_packages(DEFAULT_PACKAGES if packages is None else packages)
        self.answer(_LIST.pattern, self._list_stage, _LIST_COLUMNS)
        self.answer(_REMOVE.pattern, self._remove_from_stage, _REMOVE_COLUMNS)

    # --- configuration ----------------------------------------------------------------------------------

    def point_rest_at(self, url: str) -> None:
        parsed = urlparse(url)
        self.rest._host, self.rest._port, self.rest._protocol = parsed.hostname, parsed.port, parsed.scheme

    def answer(self, pattern: str, rows: Answer, columns: Sequence[tuple[str, str]] = ()) -> None:
        """Answer statements matching ``pattern`` with ``rows`` (columns as ``(name, connector type)``)."""
        rule = _Rule(re.compile(pattern, re.IGNORECASE | re.DOTALL), rows, tuple(columns))
        self._rules.insert(0, rule)

    def answer_packages(self, available: dict[str, list[str]]) -> None:
        """What the channel serves, for Snowpark's packages query.

        ``Session._get_available_versions_for_packages`` (snowflake/snowpark/session.py) runs
        ``table(information_schema.packages).filter(language = 'python' and package_name in (…))
        .group_by(package_name).agg(array_agg(version))`` and reads each row as ``(name, JSON array text)``.
        """

        def rows(sql: str, _params: Sequence[Any] | None) -> Rows:
            asked = set(re.findall(r"'([^']+)'", sql.split(" IN ", 1)[-1])) if " IN " in sql else set()
            return [(n, json.dumps(v)) for n, v in available.items() if n in asked]

        self.answer(
            r"information_schema\.packages", rows, [("PACKAGE_NAME", "TEXT"), ("ARRAY_AGG(VERSION)", "ARRAY")]
        )

    @property
    def uploads(self) -> dict[str, bytes]:
        return {u.stage_path: u.data for u in self.upload_log}

    def executed(self, pattern: str) -> list[Statement]:
        """The recorded statements whose SQL matches ``pattern`` (case-insensitive)."""
        rx = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        return [s for s in self.statements if rx.search(s.sql)]

    # --- the connector surface --------------------------------------------------------------------------

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self)

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    # --- internals --------------------------------------------------------------------------------------

    def _next_query_id(self) -> str:
        return f"01offline-{next(self._ids):06d}"

    def _current(self, sql: str, _params: Sequence[Any] | None) -> Rows:
        what = re.search(r"CURRENT_(\w+)\(", sql, re.IGNORECASE)
        return [(getattr(self, what.group(1).lower()) if what else None,)]

    def _answer(
        self, sql: str, params: Sequence[Any] | None, *, describe_only: bool = False
    ) -> tuple[Rows, list[ResultMetadata]]:
        for rule in self._rules:
            if rule.pattern.search(sql):
                columns = [_column(n, t) for n, t in rule.columns]
                if describe_only:
                    return [], columns
                rows = rule.answer(sql, params) if callable(rule.answer) else list(rule.answer)
                return rows, columns
        scan = _RESULT_SCAN.match(sql)
        if scan is not None:
            return self._result_scan(scan.group("query_id"), scan.group("columns"))
        return [], []

    def _stage_key(self, location: str) -> tuple[str, str]:
        """``(DB.SCHEMA.STAGE, path)`` of ``@stage[/path]``: the name resolved as stored (unquoted parts
        upper-case, a partial name in the current database and schema), the path as given."""
        stage, _, path = location.removeprefix("@").partition("/")
        parts = [part if part.startswith('"') else part.upper() for part in stage.split(".")]
        context = [self.database.upper(), self.schema.upper()][: 3 - len(parts)]
        return ".".join([*context, *parts]), path.strip("/")

    def _list_stage(self, sql: str, _params: Sequence[Any] | None) -> Rows:
        listed = _LIST.match(sql)
        assert listed is not None, sql  # this answers only statements its own pattern matched
        stage, prefix = self._stage_key(listed.group("location"))
        shown = stage.rsplit(".", 1)[-1].strip('"').lower()
        rows: Rows = []
        for path, data in self.uploads.items():
            file_stage, file_path = self._stage_key(path)
            # the path after the stage is a prefix of the names listed, as in LIST
            if file_stage == stage and file_path.startswith(prefix):
                rows.append(
                    (f"{shown}/{file_path}", len(data), hashlib.md5(data).hexdigest(), _LAST_MODIFIED)
                )
        return rows

    def _remove_from_stage(self, sql: str, _params: Sequence[Any] | None) -> Rows:
        removing = _REMOVE.match(sql)
        assert removing is not None, sql  # this answers only statements its own pattern matched
        stage, prefix = self._stage_key(removing.group("location"))
        shown = stage.rsplit(".", 1)[-1].strip('"').lower()
        kept: list[Upload] = []
        rows: Rows = []
        for upload in self.upload_log:
            file_stage, file_path = self._stage_key(upload.stage_path)
            # as LIST, the path after the stage is a prefix of the names removed
            if file_stage == stage and file_path.startswith(prefix):
                rows.append((f"{shown}/{file_path}", "removed"))
            else:
                kept.append(upload)
        self.upload_log = kept
        return rows

    def _result_scan(self, query_id: str, selected: str) -> tuple[Rows, list[ResultMetadata]]:
        """RESULT_SCAN of an earlier statement, projected to the selected columns (quoted names exact,
        unquoted ones case-insensitive), failing as Snowflake does for an unknown query id or column."""
        if query_id not in self._results:
            raise ProgrammingError(msg=f"Statement {query_id} not found", errno=709)
        rows, description = self._results[query_id]
        names = [column.name for column in description]
        picked: list[int] = []
        for item in (part.strip() for part in selected.split(",")):
            quoted = item.startswith('"') and item.endswith('"')
            wanted = [
                i for i, n in enumerate(names) if (n == item[1:-1] if quoted else n.upper() == item.upper())
            ]
            if not wanted:
                raise ProgrammingError(
                    msg=f"SQL compilation error: invalid identifier '{item}' (the result has {names})",
                    errno=904,
                )
            picked.append(wanted[0])
        return [tuple(row[i] for i in picked) for row in rows], [description[i] for i in picked]

    def _put(self, sql: str, stream: IO[bytes]) -> tuple[Rows, list[ResultMetadata]]:
        # PUT file:///tmp/placeholder/<file> '@stage/prefix' … (server_connection.py _build_put_statement)
        parts = shlex.split(sql)
        file_name = parts[1].rsplit("/", 1)[-1]
        stage_path = f"{parts[2].rstrip('/')}/{file_name}"
        stream.seek(0)
        data = stream.read()
        self.upload_log.append(Upload(stage_path, data))
        columns = [("source", "TEXT"), ("target", "TEXT"), ("status", "TEXT")]
        return [(file_name, file_name, "UPLOADED")], [_column(n, t) for n, t in columns]


def recording_session(conn: RecordingConnection) -> Any:
    """A real Snowpark ``Session`` whose connector connection is ``conn``.

    ``Session.builder.configs({"connection": conn}).create()`` wraps it in ``ServerConnection({}, conn)``
    (session.py ``SessionBuilder._create_internal``) and registers it as the active session.
    """
    from snowflake.snowpark import Session

    return Session.builder.configs({"connection": conn}).create()
