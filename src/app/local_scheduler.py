"""The simulator's scheduler loop (``python -m app scheduler``): Snowflake schedules its graphs itself."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from domain.graph import GraphSpec


class LocalScheduler:
    """Runs the deployed graphs of one simulator home when they are due, in this process."""

    def __init__(self, scheduler: Any, operation: Any, home: Path) -> None:
        self._scheduler = scheduler
        self._operation = operation
        self.home = home

    def attach(self, graph: GraphSpec) -> None:
        """Task bodies are Python callables that live in the process that runs them, so this process attaches
        the graph deployed earlier (its schedule, config and history stay as deployed)."""
        self._scheduler.attach(graph)

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Check for due graphs every ``poll_seconds`` until ``stop`` is set, then wait for the runs started."""
        from adapters.simulator.taskgraph.scheduling import run_scheduler

        run_scheduler(self._operation, stop_event=stop, poll_seconds=poll_seconds)
