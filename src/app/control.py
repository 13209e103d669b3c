"""Watch and control a simulator run from another terminal: the process holding a home answers for it.

DuckDB lets one process open a home (an exclusive file lock), and a run's in-flight state — the run groups a
``cancel`` must reach, the live task states — lives in that process's memory. So a second process cannot open the
home, and opening it read-only would still not reach a running run. Design: **one writer, the others talk to
it**. The process holding a home serves a loopback HTTP endpoint (stdlib ``http.server``: no new dependency, and
the uvicorn server of ``adapters.simulator.sql`` is the Snowflake SQL API, not ours) on ``127.0.0.1``, port 0
(the kernel picks a free one), and writes ``<home>/control.json`` (pid, port, a random token, its command; mode
0600, replaced atomically, removed on close). A second process whose open fails with ``HomeInUse`` reads that
file; if its pid is alive it POSTs its whole argv and its resolved settings (as JSON; the holder's environment is
not the caller's, so it must not resolve them again) with the token, and prints what comes back: stdout, stderr,
exit code. The holder runs the command through the CLI's own command table on its own adapters, so the account
stays written by one process and a ``cancel`` reaches the run. Only the commands in ``FORWARDED`` are served;
anything else (setup, deploy, run, scheduler, drop, …) is refused naming the holder, exit 3.

Why not a Unix socket: the file mode already limits who can read the token, and TCP on loopback works the same
on every platform the CLI runs on. Why a token: any local user can connect to a loopback port; only those who
can read ``control.json`` (its owner) can send commands. A ``control.json`` whose pid is dead (a killed
holder) is ignored, and the next holder replaces it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from app.settings import GraphOptions, Names, Settings
from domain.config import PipelineConfig
from domain.errors import BackendUnavailable, DomainError
from domain.graph import OverlapPolicy

CONTROL_FILE = "control.json"
log = logging.getLogger(__name__)
# Commands a second process may run through the holder: reading, and controlling the runs the holder owns.
# Everything else would start work of its own in the holder (setup, deploy, run, retry, execute, scheduler) or
# remove what it runs (drop).
FORWARDED = frozenset({"runs", "logs", "graph", "models", "cancel", "suspend", "resume", "report"})
REQUEST_TIMEOUT_SECONDS = (
    300.0  # a forwarded report of many runs takes seconds; a hung holder must not hang us
)

# A forwarded command: argv, settings and the caller's working folder in; exit code, stdout and stderr out.
Handler = Callable[[list[str], Settings, Path], tuple[int, str, str]]


@dataclass(frozen=True)
class Holder:
    """What ``control.json`` says about the process holding a home."""

    pid: int
    port: int
    token: str
    command: str

    def refusal(self, home: Path) -> str:
        return (
            f"the home {home} is held by pid {self.pid} (command {self.command}); wait or use another --home "
            f"(while it runs, another terminal can use: {', '.join(sorted(FORWARDED))})"
        )


def settings_json(settings: Settings) -> dict[str, Any]:
    """The settings a forwarded command needs, as JSON. The webhook (and its secret) stays out: no forwarded
    command sends a notification of its own."""
    names = asdict(settings.names)
    names["given"] = sorted(settings.names.given)
    return {
        "backend": settings.backend,
        "home": None if settings.home is None else str(settings.home),
        "connection": settings.connection,
        "names": names,
        "graph": asdict(settings.graph),
        "pipeline": settings.pipeline.to_mapping(),
    }


def settings_from_json(data: dict[str, Any]) -> Settings:
    names = dict(data["names"])
    names["given"] = frozenset(names["given"])
    graph = dict(data["graph"])
    graph["overlap_policy"] = OverlapPolicy(graph["overlap_policy"])
    return Settings(
        backend=data["backend"],
        home=None if data["home"] is None else Path(data["home"]),
        connection=data["connection"],
        names=Names(**names),
        graph=GraphOptions(**graph),
        pipeline=PipelineConfig.from_mapping(data["pipeline"]),
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def read_holder(home: Path) -> Holder | None:
    """The live holder ``<home>/control.json`` names; None when there is none, it is unreadable, or its pid is
    dead (a holder that was killed leaves its file behind)."""
    try:
        data = json.loads((home / CONTROL_FILE).read_text())
        holder = Holder(int(data["pid"]), int(data["port"]), str(data["token"]), str(data["command"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return holder if _alive(holder.pid) else None


def forward(
    home: Path, holder: Holder, command: str, argv: Sequence[str], settings: Settings, *, cwd: Path
) -> tuple[int, str, str]:
    """Run ``argv`` in the holder; its exit code, stdout and stderr. Raises ``BackendUnavailable`` (exit 3)
    when the command is not one it serves, or when the holder cannot be reached or refuses the request."""
    if command not in FORWARDED:
        raise BackendUnavailable(holder.refusal(home))
    body = json.dumps({"argv": list(argv), "settings": settings_json(settings), "cwd": str(cwd)}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{holder.port}/command",
        data=body,
        headers={"Authorization": f"Bearer {holder.token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # the holder answered with a refusal
        raise BackendUnavailable(
            f"pid {holder.pid}, which holds the home {home}, refused the command: {_error_of(exc)}"
        ) from exc
    except (OSError, ValueError) as exc:  # connection refused or cut: the holder is closing or is not ours
        raise BackendUnavailable(
            f"the home {home} is in use by pid {holder.pid} (command {holder.command}), which did not answer "
            f"({exc}); wait for it to finish or use another --home"
        ) from exc
    return int(answer["exit"]), str(answer["stdout"]), str(answer["stderr"])


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read())["error"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"HTTP {exc.code}"


class ControlServer:
    """The holder's endpoint: ``POST /command`` with ``Authorization: Bearer <token>`` runs one forwarded
    command at a time on a worker thread (the account's lock orders its statements with the holder's own)."""

    def __init__(self, home: Path, command: str, handler: Handler) -> None:
        self.home, self.command, self._handler = home, command, handler
        self.token = secrets.token_urlsafe(32)
        self._one_at_a_time = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self._server.daemon_threads = False  # close() waits for a command in flight
        self._thread = threading.Thread(target=self._server.serve_forever, name="control", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> ControlServer:
        self._thread.start()
        self._write_file()
        return self

    def close(self) -> None:
        """Stop answering (the file first, so no new caller finds it), then wait for a command in flight."""
        file = self.home / CONTROL_FILE
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if json.loads(file.read_text())["token"] == self.token:  # never a newer holder's file
                file.unlink()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _write_file(self) -> None:
        # Written whole to a private temporary file, then renamed over any stale one: a reader never sees half.
        tmp = self.home / f".{CONTROL_FILE}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {"pid": os.getpid(), "port": self.port, "token": self.token, "command": self.command}, f
            )
        os.replace(tmp, self.home / CONTROL_FILE)

    def _answer(self, token: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if not hmac.compare_digest(token.encode(), f"Bearer {self.token}".encode()):
            return 403, {"error": f"wrong or missing token (the token is in {self.home / CONTROL_FILE})"}
        try:
            request = json.loads(body)
            argv, settings = [str(a) for a in request["argv"]], settings_from_json(request["settings"])
            cwd = Path(request["cwd"])
        except (ValueError, KeyError, TypeError, DomainError) as exc:
            return 400, {"error": f"not a command request: {exc}"}
        with self._one_at_a_time:
            try:
                code, out, err = self._handler(argv, settings, cwd)
            except Exception as exc:  # a bug in a forwarded command must not look like a holder that hung up
                log.exception("a command forwarded to this process failed: %s", argv)
                return 500, {"error": f"the command failed in the holder: {exc!r}"}
        return 200, {"exit": code, "stdout": out, "stderr": err}

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != "/command":
                    status, answer = 404, {"error": f"no endpoint {self.path}; POST /command"}
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    status, answer = server._answer(
                        self.headers.get("Authorization", ""), self.rfile.read(length)
                    )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the holder's output is its own command's, not an access log

        return Handle


@contextlib.contextmanager
def serving(home: Path, command: str, handler: Handler) -> Iterator[ControlServer]:
    server = ControlServer(home, command, handler).start()
    try:
        yield server
    finally:
        server.close()
