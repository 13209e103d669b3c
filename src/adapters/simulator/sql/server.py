"""The account's SQL server: Snowflake's connector REST protocol on loopback, served by fakesnow over the account's
DuckDB.

A real ``snowflake.connector`` connection — and so a real ``snowflake.snowpark.Session`` — logs in to it, from
task threads or from job worker processes alike. fakesnow's own handlers (fakesnow/server.py ``query_request``,
``describe_only_response``, the ``/fs_bucket`` upload route, ``session``) serve the requests; only login is ours:
instead of fakesnow's module-level ``shared_fs`` (fakesnow/server.py ``login_request``) it makes a
``FakeSnowflakeConnection`` over a cursor of the account's own connection, with ``db_path`` the account's
databases folder (in memory for a temporary account), so task SQL sees the account's databases. The login's
``SIMULATOR_TASK`` session parameter binds the session to a running task: its ``SYSTEM$`` calls reach that task.

Every statement runs under the account lock (one writer at a time, as ``LocalAccount.cursor`` promises) and can
be interrupted, as task statements are when their task times out or is cancelled. One server per account,
started on first use (uvicorn on 127.0.0.1, a free port, a daemon thread — as ``fakesnow.server()`` runs it,
fakesnow/__init__.py) and stopped when the account closes.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import re
import secrets
import socket
import threading
import time
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import fakesnow.server as fs_server
import pyarrow as pa
import sqlglot
import sqlglot.errors
import uvicorn
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.expr import normalise_ident
from fakesnow.fakes import FakeSnowflakeConnection
from fakesnow.transforms import SERVER_VERSION
from snowflake.connector.cursor import DictCursor, SnowflakeCursor
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.sql import hooks, patches, stages, table_times, udfs
from adapters.simulator.sql.identifiers import check_exact_names
from adapters.simulator.sql.statements import PROCEDURE_ERROR_CODE, SessionState, SqlError, short
from adapters.simulator.sql.system import SystemFunctions
from adapters.simulator.sql.taskgraph_sql import Executed
from domain.errors import BackendUnavailable, DomainError

DATABASE = "SIMULATOR"  # where the simulator's task graphs live (LocalDAGOperation's database and schema)
SCHEMA = "PUBLIC"
TASK_PARAMETER = "SIMULATOR_TASK"  # the login's session parameter naming the running task it belongs to
CANCEL_CODE = 604  # "SQL execution canceled"
_START_SECONDS = 10.0
_INTERRUPT_SECONDS = 60.0  # how long a running statement of an interrupted session is kept interrupted

# fakesnow logs every login and every failed statement at INFO through uvicorn's handlers: task errors are
# reported by the engine instead.
logging.getLogger("fakesnow.server").setLevel(logging.WARNING)
# sqlglot warns that it parses CALL as a command, on every CALL SYSTEM$… a task makes
logging.getLogger("sqlglot").setLevel(logging.ERROR)
# DuckDB warns on fakesnow's every result fetch (fakesnow/cursor.py ``_execute``: ``to_arrow_table()`` on a cursor).
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


class _Login:
    """One client session: its own DuckDB cursor (its current database/schema and temporary tables live on it)."""

    def __init__(self, account: LocalAccount, functions: SystemFunctions | None, key: str | None) -> None:
        self.account = account
        self.functions = functions
        # Every statement on the session's cursor runs inside account.cursor()'s lock, see ``statement``.
        self.duck = account.session_cursor()
        self._guard = threading.Lock()
        self._running = False
        self._refused = False
        self.session_id = 0  # CURRENT_SESSION(): numbered by the server at login
        self.state = SessionState(account=account, task_key=key)

    @contextlib.contextmanager
    def statement(self) -> Iterator[None]:
        """Run one DuckDB statement of this session: under the account lock, refused once interrupted."""
        try:
            with self.account.cursor():  # the account lock; refuses once the account is closed
                with self._guard:
                    if self._refused:
                        raise SqlError(
                            "SQL execution canceled: the task of this session ran past its time limit or was "
                            "cancelled",
                            CANCEL_CODE,
                            "57014",
                        )
                    self._running = True
                try:
                    yield
                finally:
                    with self._guard:
                        self._running = False
        except DomainError as exc:
            raise SqlError(f"{type(exc).__name__}: {exc}", PROCEDURE_ERROR_CODE, "P0000") from exc
        except duckdb.InterruptException as exc:
            raise SqlError(f"SQL execution canceled: {exc}", CANCEL_CODE, "57014") from exc
        except duckdb.InvalidInputException as exc:  # DuckDB's text of an error raised inside a Python UDF
            if (raised := udfs.raised(exc)) is None:
                raise
            raise raised from exc

    def interrupt(self) -> None:
        """Stop the running statement and refuse later ones; never waits for the account lock."""
        with self._guard:
            self._refused = True
            running = self._running
        if running:
            threading.Thread(target=self._interrupt_until_done, name="sql-interrupt", daemon=True).start()

    def _interrupt_until_done(self) -> None:
        # DuckDB's interrupt only stops a statement already running: repeat until this one has ended.
        deadline = time.monotonic() + _INTERRUPT_SECONDS
        while time.monotonic() < deadline:
            with self._guard:
                if not self._running:
                    return
            self.duck.interrupt()
            time.sleep(0.02)

    def close(self) -> None:
        # the session's temporary tables end with it (statements.SessionState); a closed account has dropped them
        for table in self.state.temporary_tables:
            with contextlib.suppress(duckdb.Error, SqlError), self.statement():
                self.duck.execute(f"DROP TABLE IF EXISTS {table}")
        with contextlib.suppress(duckdb.Error, DomainError):  # and its temporary UDFs (udfs.py)
            udfs.end_session(self.state)
        with contextlib.suppress(duckdb.Error):
            self.duck.close()


class _AccountCursor(FakeSnowflakeCursor):
    """fakesnow's cursor, with the statement hooks in front and the account lock around each DuckDB statement."""

    _conn: _AccountConnection

    def execute(self, command: str, params: Any = None, *args: Any, **kwargs: Any) -> FakeSnowflakeCursor:
        bound = (
            params if params is not None else kwargs.get("binding_params")
        )  # via the server: binding_params
        return super().execute(
            hooks.rewrite(
                command,
                self._conn.login.functions,
                self._conn.login.state,
                bound if isinstance(bound, Sequence) else None,
                (self._conn.database, self._conn.schema),
            ),
            params,
            *args,
            **kwargs,
        )

    def _describe_only(self, command: str) -> list[Any] | None:
        return super()._describe_only(hooks.describable(command))

    def _describe_last_sql(self) -> list[Any]:
        # fakesnow/cursor.py ``_describe_last_sql`` parses ``DESCRIBE <last query>``, which sqlglot refuses for a
        # set operation whose first query is parenthesised — what Snowpark's DataFrame.union/except_/intersect
        # send — and the request then failed with HTTP 500; as a subquery it has the same columns.
        try:
            return super()._describe_last_sql()
        except sqlglot.errors.ParseError:
            with self._conn.cursor() as cur:
                described = sqlglot.parse_one(f"DESCRIBE SELECT * FROM ({self._last_sql})", read="duckdb")
                cur._execute(described, self._last_params)
                return cur.fetchall()

    def check_db_and_schema(self, expression: exp.Expr) -> None:
        # fakesnow/cursor.py ``execute`` calls this with each parsed statement before it runs
        super().check_db_and_schema(expression)
        with self._conn.login.statement():
            check_exact_names(expression, self._duck_conn, self._conn.database, self._conn.schema)

    def _execute(self, transformed: exp.Expr, params: Any = None) -> None:
        # fakesnow/cursor.py ``_execute`` is where every statement, also its own describes, reaches DuckDB.
        conn = self._conn
        with (
            conn.login.statement(),
            table_times.recorded(
                self._duck_conn, transformed, (conn.database, conn.schema), conn._autocommit
            ),
        ):
            super()._execute(transformed, params)


class _AccountConnection(FakeSnowflakeConnection):
    def __init__(self, login: _Login, database: str | None, schema: str | None, autocommit: bool) -> None:
        self.login = login
        with login.statement():  # creating the connection attaches and creates its database and schema
            super().__init__(
                login.duck,
                {},
                database,
                schema,
                db_path=login.account.databases,
                autocommit=autocommit,
            )
        login.state.location = lambda: (self.database, self.schema)  # fakesnow keeps them current on USE
        login.state.sql = _SessionSql(self)

    def cursor(self, cursor_class: type[SnowflakeCursor] = SnowflakeCursor) -> FakeSnowflakeCursor:
        return _AccountCursor(
            conn=self, duck_conn=self._duck_conn, use_dict_result=issubclass(cursor_class, DictCursor)
        )


class _SessionSql:
    """The session itself, for the statement rules that evaluate or materialize (taskgraph_sql.SessionSql)."""

    def __init__(self, conn: _AccountConnection) -> None:
        self._conn = conn

    def run(self, statement: str) -> Executed:
        cursor = self._conn.cursor(DictCursor)  # type: ignore[arg-type]  # rows keyed by column: no describe request for the names
        try:
            cursor.execute(statement)
            rows: list[dict[str, Any]] = cursor.fetchall()  # type: ignore[assignment]
            return Executed(rows, cursor.rowcount, cursor.sfqid)
        finally:
            cursor.close()

    def arrow(self, statement: str) -> pa.Table:
        cursor = self._conn.cursor()
        try:
            cursor.execute(statement)
            # fakesnow/cursor.py ``_execute`` caches the result as DuckDB's Arrow table, types and all
            return self._conn.results_cache[str(cursor.sfqid)][0]
        finally:
            cursor.close()

    def scalar(self, expression: str) -> Any:
        cursor = self._conn.cursor()  # through fakesnow (and the rules): the expression is Snowflake SQL
        try:
            row = cursor.execute(f"select {expression}").fetchone()
        finally:
            cursor.close()
        return row[0] if row else None

    def temp_table(self, name: str, columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> None:
        # On the session's own DuckDB cursor: a temporary table lives on it alone, as a session's does.
        login = self._conn.login
        with login.statement():
            duck = login.duck
            definition = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            duck.execute(f'create or replace temporary table "{name}" ({definition})')
            if rows:
                batch = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
                duck.register("_sf_rows", batch)
                try:
                    duck.execute(f'insert into "{name}" by name select * from _sf_rows')
                finally:
                    duck.unregister("_sf_rows")

    def query_ids(self) -> list[str]:
        # fakesnow/cursor.py ``_execute`` caches each statement's result in order, with its transformed statement;
        # a describe-only request runs as ``DESCRIBE <query>`` (``_describe_only``): not a statement the client ran
        return [
            i for i, cached in self._conn.results_cache.items() if not isinstance(cached[4], exp.Describe)
        ]

    def result_table(self, query_id: str, name: str) -> bool:
        # fakesnow/cursor.py ``_execute`` keeps every result of the connection's statements in ``results_cache``
        cached = self._conn.results_cache.get(query_id)
        if cached is None:
            return False
        login = self._conn.login
        with login.statement():
            login.duck.register("_sf_result", cached[0])
            try:
                login.duck.execute(f'create or replace temporary table "{name}" as select * from _sf_result')
            finally:
                login.duck.unregister("_sf_result")
        return True


class _ServingAccount:
    """The ASGI app of one account's server: each request runs as the account's (stages.serving), so fakesnow's
    stage files of that request are in the account's home."""

    def __init__(self, app: Starlette, account: LocalAccount) -> None:
        self._app = app
        self._account = account

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with stages.serving(self._account):  # starlette's run_in_threadpool copies the context to its thread
            await self._app(scope, receive, send)


class SqlServer:
    """The loopback server of one account; ``connection_options`` are what a connector needs to log in."""

    def __init__(self, account: LocalAccount) -> None:
        self._account = account
        with account.cursor() as cur:  # fakesnow's global objects, before any session's first statement
            account.ensure_fakesnow(cur)
        self._logins: dict[str, _Login] = {}
        self._tasks: dict[str, SystemFunctions] = {}
        self._next_session_id = 0
        self._lock = threading.Lock()
        routes = [
            Route("/session/v1/login-request", self._login_request, methods=["POST"]),
            Route("/session", self._session_request, methods=["POST"]),
            Route("/queries/v1/query-request", _query_request, methods=["POST"]),
            *(
                r
                for r in fs_server.routes
                if r.path not in ("/session/v1/login-request", "/session", "/queries/v1/query-request")
            ),
        ]
        self._server = uvicorn.Server(
            uvicorn.Config(
                _ServingAccount(Starlette(routes=routes), account),
                log_config=None,  # leave the application's logging alone
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=5,
            )
        )
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then (asyncio/base_events.py
        # ``_set_nodelay``); without it every reply waits ~40 ms for the client's delayed ACK (Nagle's algorithm)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._stopped = False
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="sql-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise BackendUnavailable(f"the simulator's SQL server for {account.home} did not start")
            time.sleep(0.002)

    def session_options(self, task: str | None = None) -> dict[str, Any]:
        """What a Snowpark session on this server is made from (in SIMULATOR.PUBLIC), also in another process;
        ``task`` (a key from ``bind_task``) makes it that task's."""
        options = {**self.connection_options(task), "database": DATABASE, "schema": SCHEMA}
        options["paramstyle"] = "qmark"  # Snowpark's default (session.py ``SessionBuilder._create_internal``)
        return options

    def open_session(self, task: str | None = None) -> Any:
        """A Snowpark session on this server (see ``session_options``)."""
        from snowflake.snowpark import Session  # Snowpark takes seconds to import: only when a session opens
        from snowflake.snowpark._internal.server_connection import ServerConnection

        options = self.session_options(task)
        # Not through Session.builder: that would add it to Snowpark's process-wide active sessions.
        return Session(ServerConnection(options), options)

    def connection_options(self, task: str | None = None) -> dict[str, Any]:
        """``snowflake.connector.connect`` / ``Session.builder.configs`` options for this server.

        ``task`` is a key from ``bind_task``: the session then serves that task's ``SYSTEM$`` calls.
        """
        parameters: dict[str, Any] = {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False}
        if task is not None:
            parameters[TASK_PARAMETER] = task
        return {
            "user": "simulator",
            "password": "simulator",
            "account": "simulator",
            "host": "127.0.0.1",
            "port": self.port,
            "protocol": "http",
            "session_parameters": parameters,
            # no retries: an error of the local server is not transient (fakesnow.server() does the same)
            "network_timeout": 1,
            # 0.0 skips the connector's probes of cloud metadata endpoints at every login (boto3, 169.254.169.254:
            # snowflake/connector/platform_detection.py ``detect_platforms``, cached per session manager, so
            # never across logins): ~20 ms a login, and an offline account has no cloud to detect
            "platform_detection_timeout_seconds": 0.0,
        }

    @contextlib.contextmanager
    def bind_task(self, functions: SystemFunctions) -> Iterator[str]:
        """A key that logs sessions in as the running task ``functions`` serve, valid until the block ends."""
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._tasks[key] = functions
        try:
            yield key
        finally:
            with self._lock:
                self._tasks.pop(key, None)

    def interrupt_task(self, key: str) -> None:
        """Interrupt every session of the task bound as ``key`` (its statements now, and its later ones)."""
        with self._lock:
            functions = self._tasks.get(key)
            logins = [x for x in self._logins.values() if functions is not None and x.functions is functions]
        for login in logins:
            login.interrupt()

    async def _login_request(self, request: Request) -> JSONResponse:
        # What fakesnow/server.py ``login_request`` does, on the account's connection instead of ``shared_fs``.
        from starlette.concurrency import run_in_threadpool

        database = (d := request.query_params.get("databaseName")) and normalise_ident(d)
        schema = (s := request.query_params.get("schemaName")) and normalise_ident(s)
        body = await request.body()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        body = json.loads(body)
        parameters: dict[str, Any] = body["data"]["SESSION_PARAMETERS"]
        autocommit = bool(parameters.get("AUTOCOMMIT", True))
        functions: SystemFunctions | None = None
        if (key := parameters.get(TASK_PARAMETER)) is not None:
            with self._lock:
                functions = self._tasks.get(str(key))
            if functions is None:
                return _failure("390100", f"{TASK_PARAMETER}={key!r} names no running task of this account")
        try:
            conn = await run_in_threadpool(
                self._connect, functions, None if key is None else str(key), database, schema, autocommit
            )
        except ProgrammingError as exc:
            return _failure(f"{exc.errno:06d}", exc.msg or str(exc))
        token = secrets.token_urlsafe(32)
        login = conn.login
        with self._lock:
            login.session_id = self._next_session_id = self._next_session_id + 1
            self._logins[token] = login
        fs_server.sessions[token] = conn
        return JSONResponse(
            {
                "data": {
                    "token": token,
                    # fakesnow sends no master token, so the connector's close refuses to log out ("Connection
                    # is closed", snowflake/connector/network.py ``delete_session``), leaves the session open and
                    # Snowpark closes it again at interpreter exit, when this server is gone
                    "masterToken": token,
                    "sessionId": login.session_id,
                    "serverVersion": SERVER_VERSION,
                    "parameters": [
                        {"name": "AUTOCOMMIT", "value": autocommit},
                        {"name": "CLIENT_SESSION_KEEP_ALIVE_HEARTBEAT_FREQUENCY", "value": 3600},
                        # arrays are bound inline, never staged first (fakesnow/server.py ``login_request``)
                        {"name": "CLIENT_STAGE_ARRAY_BINDING_THRESHOLD", "value": 0},
                    ],
                    "sessionInfo": {"databaseName": conn.database, "schemaName": conn.schema},
                },
                "success": True,
            }
        )

    def _connect(
        self,
        functions: SystemFunctions | None,
        key: str | None,
        database: str | None,
        schema: str | None,
        autocommit: bool,
    ) -> _AccountConnection:
        login = _Login(self._account, functions, key)
        login.state.open_session = lambda: self.open_session(key)  # a procedure's session (procedures.py)
        try:
            return _AccountConnection(login, database, schema, autocommit)
        except BaseException:
            login.close()
            raise

    async def _session_request(self, request: Request) -> Response:
        response = await fs_server.session(request)
        if request.query_params.get("delete"):  # the client closed its session: release its cursor
            token = fs_server.to_token(request)
            with self._lock:
                login = self._logins.pop(token, None)
            if login is not None:
                login.close()
        return response

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Stop serving and release every session's cursor (the account's connection is still open)."""
        self._stopped = True
        # A task abandoned past its time limit may still use its session after this: the connector would log
        # each refused request with its traceback (snowflake/connector/network.py), so those records are dropped.
        _refused.add(f"127.0.0.1:{self.port}")
        self._server.should_exit = True
        self._thread.join(timeout=10)
        with self._lock:
            logins, self._logins = self._logins, {}
        for token, login in logins.items():
            fs_server.sessions.pop(token, None)
            login.close()
        self._socket.close()


_refused: set[str] = set()  # addresses of stopped servers


class _StoppedServerNoise(logging.Filter):
    """Drops the connector's records about requests to a server that has stopped (see ``SqlServer.stop``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _refused:
            return True
        text = record.getMessage()
        return not any(
            address in text or f"port={address.rsplit(':', 1)[1]})" in text for address in _refused
        )


for _name in ("snowflake.connector.network", "snowflake.connector.vendored.urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_StoppedServerNoise())


async def _query_request(request: Request) -> JSONResponse:
    """fakesnow/server.py ``query_request``, with GET answered here: fakesnow has none (stages.download_command)."""
    body = await request.body()  # starlette keeps it for fakesnow's handler to read again
    text = json.loads(gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip" else body)[
        "sqlText"
    ]
    if re.match(r"^\s*GET\s", text, re.IGNORECASE):
        try:
            conn = fs_server.to_conn(fs_server.to_token(request))
            download = stages.download_command(text, conn.database, conn.schema)
        except fs_server.ServerError as exc:
            return JSONResponse(
                {"data": None, "code": exc.code, "message": exc.message, "success": False}, exc.status_code
            )
        except ProgrammingError as exc:
            return _failure(f"{exc.errno:06d}", exc.msg or str(exc))
        if download is not None:
            return JSONResponse({"data": download, "success": True})
    try:
        response = await fs_server.query_request(request)
    except Exception as exc:  # raised past fakesnow's own net, e.g. converting the result
        return _internal_error(text, f"{type(exc).__name__}: {exc}")
    if response.status_code == 500:
        # fakesnow answers an unexpected exception with HTTP 500 (fakesnow/server.py ``query_request``), which the
        # connector retries and then raises as "HTTP 500: Internal Server Error", naming nothing; fakesnow has
        # logged the traceback to the "fakesnow.server" logger
        return _internal_error(text, "unexpected error in the simulator's SQL layer")
    return response


def _internal_error(statement: str, cause: str) -> JSONResponse:
    """Snowflake's "SQL execution internal error" (000603, XX000) for a statement the simulator failed on."""
    return _failure_row(
        "000603", "XX000", f"SQL execution internal error: {cause} — in statement {short(statement)!r}"
    )


def _failure(code: str, message: str) -> JSONResponse:
    return JSONResponse({"data": None, "code": code, "message": message, "success": False})


def _failure_row(code: str, sqlstate: str, message: str) -> JSONResponse:
    # as fakesnow/server.py ``query_request`` answers a ProgrammingError: the connector reads the SQL state from data
    return JSONResponse(
        {
            "data": {"errorCode": code, "sqlState": sqlstate},
            "code": code,
            "message": message,
            "success": False,
        }
    )


patches.install()

_servers: weakref.WeakKeyDictionary[LocalAccount, SqlServer] = weakref.WeakKeyDictionary()
_servers_lock = threading.Lock()


def server_for(account: LocalAccount) -> SqlServer:
    """The account's SQL server, started on first use and stopped when the account closes."""
    with _servers_lock:
        server = _servers.get(account)
        if server is None:
            server = _servers[account] = SqlServer(account)

            def stop() -> None:
                with _servers_lock:
                    _servers.pop(account, None)
                server.stop()

            account.on_close(stop)
        return server
