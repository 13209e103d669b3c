"""What one task thread logged and printed, captured while it runs, bounded in size.

Tasks run on threads of one process (see ``attempt``), so capture is per thread: a ``logging`` handler on the
root logger keeps the records emitted by a capturing thread, and ``sys.stdout``/``sys.stderr`` are swapped,
while any thread captures, for a stream that also copies a capturing thread's writes to its buffer (everything
still reaches the stream it replaced, as log records still reach their handlers). Records are kept at the
loggers' own levels (the CLI's default is WARNING, ``-v`` INFO): capture never changes what a logger emits.

Bounds: a task keeps the last ``MAX_LOG_CHARS`` characters of its output (the end of a failing task's output is
what explains it) and the last ``MAX_TRACEBACK_CHARS`` of its traceback; what is cut is said in the first line.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

MAX_LOG_CHARS = 64 * 1024
MAX_TRACEBACK_CHARS = 16 * 1024
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def bounded(text: str, limit: int) -> str:
    """``text``, or its last ``limit`` characters after a line saying how many were dropped."""
    if len(text) <= limit:
        return text
    return f"[… {len(text) - limit} earlier characters dropped]\n" + text[-limit:]


class _Capture:
    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.dropped = 0  # characters already cut from the front

    def write(self, text: str) -> None:
        self.buffer.write(text)
        if self.buffer.tell() > 2 * MAX_LOG_CHARS:  # keep memory bounded for a task that prints without end
            kept = self.buffer.getvalue()[-MAX_LOG_CHARS:]
            self.dropped += self.buffer.tell() - len(kept)
            self.buffer = io.StringIO()
            self.buffer.write(kept)

    def text(self) -> str:
        text = self.buffer.getvalue()
        cut = max(0, len(text) - MAX_LOG_CHARS) + self.dropped
        return text if not cut else f"[… {cut} earlier characters dropped]\n" + text[-MAX_LOG_CHARS:]


_captures: dict[int, _Capture] = {}
_lock = threading.Lock()


class _ThreadStream(io.TextIOBase):
    """Every write goes to the stream this one replaced; a capturing thread's is also kept in its capture."""

    def __init__(self, fallback: TextIO) -> None:
        self.fallback = fallback

    def write(self, text: str) -> int:
        capture = _captures.get(threading.get_ident())
        if capture is not None:
            capture.write(text)
        return self.fallback.write(text)  # still printed, as a task's log records are still emitted

    def flush(self) -> None:
        self.fallback.flush()


class _Handler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        capture = _captures.get(record.thread or 0)
        if capture is not None:
            capture.write(_FORMAT.format(record) + "\n")


_HANDLER = _Handler()


def _install() -> None:
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if not isinstance(current, _ThreadStream):
            setattr(sys, name, _ThreadStream(current))
    if _HANDLER not in logging.getLogger().handlers:
        logging.getLogger().addHandler(_HANDLER)


def _uninstall() -> None:
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if isinstance(current, _ThreadStream):
            setattr(sys, name, current.fallback)
    logging.getLogger().removeHandler(_HANDLER)


class Captured:
    """The output of the ``with`` block; ``text`` is complete once the block has ended."""

    def __init__(self, capture: _Capture) -> None:
        self._capture = capture

    @property
    def text(self) -> str:
        return self._capture.text()


@contextmanager
def captured_output() -> Iterator[Captured]:
    """Capture this thread's log records and its writes to stdout/stderr for the block."""
    capture = _Capture()
    with _lock:
        _install()
        _captures[threading.get_ident()] = capture
    try:
        yield Captured(capture)
    finally:
        with _lock:
            _captures.pop(threading.get_ident(), None)
            if not _captures:
                _uninstall()
