"""A run group in flight: its attempts one after another (automatic retries), observable while it runs.

A FAILED attempt is followed, while ``attempt <= task_auto_retry_attempts``, by a new attempt of the same run
group (``AUTOMATIC RETRY``) that keeps SUCCEEDED and SKIPPED tasks (with their return values, without new rows)
and re-runs FAILED and CANCELLED tasks, re-evaluating NOT_EXECUTED ones. A cancelled run group is not retried.

Who owns what: the run group owns its outcome (``record``, ``error``, ``done``) and its cancel requests; the
current attempt owns the task states and return values the group shows; the launcher owns ``queued`` and
``dropped`` (under its lock).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from adapters.simulator.taskgraph.attempt import Attempt, EngineServices
from adapters.simulator.taskgraph.run_meta import Carried, RunMeta, carried_tasks
from adapters.simulator.taskgraph.store import RunRecord
from domain.graph import GraphRunState, ScheduledFrom, TaskState


class RunGroup:
    """An in-flight run group (the CLI shows its task states live)."""

    def __init__(self, meta: RunMeta) -> None:
        self.meta = meta
        self.done = threading.Event()
        self.record: RunRecord | None = None  # the latest attempt's; None when the root's WHEN was false
        self.error: BaseException | None = None  # an error of the engine itself, raised by run()/wait()
        self.queued = False  # NO_OVERLAP: waiting for the executing run to end; a later EXECUTE replaces it
        self.dropped = False  # cancelled while queued: it never starts and has no graph-run row
        self._cancel_requests = 0  # each request cancels what is executing when the attempt sees it
        self._current: Attempt | None = None

    @property
    def states(self) -> Mapping[str, TaskState]:
        """The current attempt's task states (short names; the root is ``""``)."""
        return {} if self._current is None else self._current.states

    def cancel(self) -> None:
        """Ask the run to cancel its executing tasks; returns at once (a task may cancel its own graph)."""
        self._cancel_requests += 1
        if self._current is not None:
            self._current.wake()

    def run(
        self, services: EngineServices, *, attempt: int, scheduled_from: ScheduledFrom, carried: Carried
    ) -> None:
        """Run attempts until one does not fail or the automatic retries are spent; the outcome lands here."""
        while True:
            current = Attempt(
                services, self.meta, attempt, scheduled_from, carried, lambda: self._cancel_requests
            )
            self._current = current
            record = current.run()
            if record is None:
                return
            self.record = record
            if (
                record.state is not GraphRunState.FAILED
                or attempt > self.meta.graph.task_auto_retry_attempts
                or self._cancel_requests
            ):
                return
            carried = carried_tasks(record.task_states, current.values)
            attempt += 1
            scheduled_from = ScheduledFrom.AUTOMATIC_RETRY
