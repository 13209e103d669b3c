"""Headless Chromium driven over the Chrome DevTools Protocol through ``--remote-debugging-pipe``.

Why this and not playwright or a websocket client: the pipe transport needs nothing but the standard library
(Chromium reads commands from fd 3 and writes replies and events to fd 4, each a JSON message ending in NUL, the
transport puppeteer's ``pipe: true`` uses), so the test runs offline with Debian's ``chromium`` package alone —
no browser download, no npm, no extra wheel.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

INSTALL_LINE = "apt-get install -y chromium"
# Headless and quiet: no first-run UI, no background fetches (component updates, sync, safe browsing lists), so the
# browser itself makes no network request while a test watches the page's own.
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
)


def _above_9(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class CdpError(RuntimeError):
    pass


class Chromium:
    """One browser process with one page; ``events`` holds every event received (method, params)."""

    def __init__(self, binary: str, user_data_dir: Path, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.events: list[tuple[str, dict[str, Any]]] = []
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # The child must find the pipe on fds 3 and 4: bash moves the inherited ends there and execs the browser (a
        # preexec_fn could, but is unsafe in a process with threads, as a test process is; dash cannot redirect fds
        # above 9). The ends are first copied to fds >= 10, so that moving one onto 3 cannot clobber the other.
        to_child_r, from_child_w = (_above_9(fd) for fd in (to_child_r, from_child_w))
        command = " ".join(
            shlex.quote(arg) for arg in (binary, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank")
        )
        self._proc = subprocess.Popen(
            [
                "/bin/bash",
                "-c",
                f"exec {command} 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._write = os.fdopen(to_child_w, "wb", buffering=0)
        self._read = os.fdopen(from_child_r, "rb", buffering=0)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        self._ids = 0
        self.session: str | None = None

    def _pump(self) -> None:
        buffer = b""
        while chunk := self._read.read(65536):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._messages.put(json.loads(message))
        self._messages.put(None)  # the browser closed its end

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> Any:
        """A command to the page's session (or to the browser), returning its result; events are recorded."""
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if not browser and self.session is not None:
            message["sessionId"] = self.session
        self._write.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._next(deadline, f"the reply to {method}")
            if reply.get("id") == self._ids:
                if "error" in reply:
                    raise CdpError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _next(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise CdpError(f"no {waiting_for} within {self.timeout:g} s") from None
        if message is None:
            raise CdpError(f"the browser exited (code {self._proc.poll()}) while waiting for {waiting_for}")
        if "method" in message:
            self.events.append((message["method"], message.get("params", {})))
        return message

    def wait_for_event(self, method: str) -> dict[str, Any]:
        for name, params in self.events:
            if name == method:
                return params
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._next(deadline, method)
            if message.get("method") == method:
                return message.get("params", {})

    def open_page(self, width: int = 1400, height: int = 1000) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def load(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_for_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (a failed resource load is one)."""
        errors: list[str] = []
        for method, params in self.events:
            if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                errors.append(str(params["exceptionDetails"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(params["entry"]["text"])
        return errors

    def requested_urls(self) -> list[str]:
        return [p["request"]["url"] for m, p in self.events if m == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, *, full_page: bool = True) -> None:
        params = {"format": "png", "captureBeyondViewport": full_page}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        with contextlib.suppress(CdpError):  # already gone: what matters below is that the process has ended
            self.send("Browser.close", browser=True)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._write.close()
        self._read.close()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
