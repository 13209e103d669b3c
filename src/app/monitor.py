"""Follow one graph run by its own run id, printing each task's state as it changes, with a timeout.

Unlike the guide's monitor it never picks "the first row" of the run views: it polls the run it started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from domain.errors import JobTimeout
from domain.graph import GraphRun
from domain.ports import Scheduler

# (graph name, run id) -> the states of the run's tasks still executing, where the backend reports them apart
# from its task history (the container's ``live_task_states``).
LiveStates = Callable[[str, str], dict[str, str] | None]


class FollowStopped(Exception):
    """``follow_run`` stopped because ``stopped()`` became true (Ctrl-C, SIGTERM); the run itself goes on."""


def follow_run(
    scheduler: Scheduler,
    graph_name: str,
    run_id: str,
    *,
    timeout: float | None,
    out: TextIO,
    live: LiveStates | None = None,
    poll_seconds: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    stopped: Callable[[], bool] = lambda: False,
) -> GraphRun:
    started = clock()
    seen: dict[str, str] = {}
    while True:
        run = next((r for r in scheduler.runs(graph_name, limit=50) if r.run_id == run_id), None)
        states: dict[str, tuple[str, str | None]] = {}
        in_flight = live(graph_name, run_id) if live else {}
        for name, state in (in_flight or {}).items():
            states[name.lower()] = (state, None)
        for t in scheduler.task_history(graph_name, run_id):
            states[t.short_name.lower()] = (str(t.state), t.error_message)
        for name, (state, error) in states.items():
            if seen.get(name) != state and state not in {"SCHEDULED", "NOT_EXECUTED"}:
                seen[name] = state
                suffix = f" — {error}" if error else ""
                out.write(f"[{clock() - started:7.1f}s] {name:<22} {state}{suffix}\n")
                out.flush()
        # A failed attempt is stored before its automatic retry starts: while this process still has the run in
        # flight, a terminal attempt is not the run's end.
        if run is not None and run.state.is_terminal and not (live and in_flight is not None):
            return run
        if in_flight is None:
            # The run ended in this process but its end is not stored (the engine failed writing it, e.g. on a
            # full disk): waiting on re-raises that error at once instead of polling until the timeout.
            ended = scheduler.wait(graph_name, run_id, timeout=0)
            if ended.state.is_terminal:
                return ended
        if timeout is not None and clock() - started > timeout:
            raise JobTimeout(f"graph run {run_id} of {graph_name} did not finish within {timeout:g} s")
        if stopped():
            raise FollowStopped(run_id)
        sleep(poll_seconds)
