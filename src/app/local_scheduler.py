"""The simulator's scheduler loop (``python -m app scheduler``): Snowflake schedules its graphs itself."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from domain.graph import GraphRun, GraphSpec

_SLICE_SECONDS = 0.1  # how soon the loop notices a stop request while it waits between checks


class StopRequest:
    """Stops the scheduler loop on SIGINT/SIGTERM; the handler only records the signal.

    A signal handler runs in the main thread between two bytecodes, possibly while that thread holds a lock
    (an Event's condition, the output stream's buffer): a handler that takes such a lock never returns. So the
    handler assigns one attribute, and the loop, polling ``is_set``/``wait``, notices it and reports it
    (``on_stop``) outside the handler.
    """

    def __init__(self, on_stop: Callable[[signal.Signals], object]) -> None:
        self._on_stop = on_stop
        self._received: signal.Signals | None = None
        self._reported = False

    def install(self) -> None:
        """Make SIGINT and SIGTERM request the stop (call from the main thread)."""
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """``install`` for a block, then the handlers there were before (outside the main thread, where Python
        allows no handler, none is installed and the default behaviour stays)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        self.install()
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def clear(self) -> None:
        """Forget a stop request that was handled, so the next signal is noticed anew."""
        self._received, self._reported = None, False

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self._received = signal.Signals(signum)  # nothing else: no locks, no I/O

    def is_set(self) -> bool:
        received = self._received
        if received is not None and not self._reported:
            self._reported = True
            self._on_stop(received)
        return received is not None

    def wait(self, timeout: float) -> bool:
        """Like ``Event.wait``: True as soon as a stop was requested, else False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(_SLICE_SECONDS, remaining))
        return True


class LocalScheduler:
    """Runs the deployed graphs of one simulator home when they are due, in this process."""

    def __init__(self, scheduler: Any, operation: Any, home: Path) -> None:
        self._scheduler = scheduler
        self._operation = operation
        self.home = home
        self._graphs: list[str] = []

    def attach(self, graph: GraphSpec) -> None:
        """Task bodies are Python callables that live in the process that runs them, so this process attaches
        the graph deployed earlier (its schedule, config and history stay as deployed)."""
        self._scheduler.attach(graph)
        self._graphs.append(graph.name)

    def run(
        self,
        stop: StopRequest,
        poll_seconds: float,
        on_start: Callable[[GraphRun], object] = lambda _run: None,
        on_end: Callable[[GraphRun], object] = lambda _run: None,
    ) -> None:
        """Check for due graphs every ``poll_seconds`` until ``stop`` is set, then wait for the runs started;
        ``on_start``/``on_end`` get each run this loop starts, as it starts and once it has ended."""
        from adapters.simulator.taskgraph.scheduling import run_scheduler

        unannounced: set[str] = set()
        in_flight: set[str] = set()

        def report(started: list[int]) -> None:
            unannounced.update(str(run_id) for run_id in started)
            in_flight.update(str(run_id) for run_id in started)
            for name in self._graphs if in_flight else ():
                for run in self._scheduler.runs(name, limit=50):
                    if run.run_id in unannounced:
                        unannounced.discard(run.run_id)
                        on_start(run)
                    if run.run_id in in_flight and run.state.is_terminal:
                        in_flight.discard(run.run_id)
                        on_end(run)

        run_scheduler(self._operation, stop_event=stop, poll_seconds=poll_seconds, after_tick=report)
