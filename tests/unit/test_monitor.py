"""Following a graph run live: it ends when the run ends, automatic retries included."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from app.monitor import follow_run
from domain.graph import GraphRun, GraphRunState


class _RetryingRun:
    """A run whose first attempt is stored FAILED while this process still runs it, then retried: ``runs``
    answers from the store, ``live`` from the process, one step per poll."""

    def __init__(self) -> None:
        at = datetime(2026, 12, 1, tzinfo=UTC)
        self.steps: list[tuple[GraphRun, dict[str, str] | None]] = [
            (GraphRun("G", "1", GraphRunState.FAILED, at, attempt_number=1), {}),  # between the two attempts
            (GraphRun("G", "1", GraphRunState.EXECUTING, at, attempt_number=2), {"t": "EXECUTING"}),
            (GraphRun("G", "1", GraphRunState.SUCCEEDED, at, attempt_number=2), None),
        ]
        self.polls = 0

    def runs(self, graph_name: str, limit: int = 20) -> list[GraphRun]:
        return [self.steps[min(self.polls, len(self.steps) - 1)][0]]

    def live(self, graph_name: str, run_id: str) -> dict[str, str] | None:
        live = self.steps[min(self.polls, len(self.steps) - 1)][1]
        self.polls += 1
        return live

    def task_history(self, graph_name: str, run_id: str | None = None) -> list[Any]:
        return []

    def wait(self, graph_name: str, run_id: str, timeout: float | None = None) -> GraphRun:
        return self.steps[-1][0]


def test_a_failed_attempt_followed_by_an_automatic_retry_is_not_the_runs_end() -> None:
    scheduler = _RetryingRun()

    ended = follow_run(
        scheduler,  # type: ignore[arg-type]
        "G",
        "1",
        timeout=None,
        out=io.StringIO(),
        live=scheduler.live,
        sleep=lambda _: None,
    )

    assert (ended.state, ended.attempt_number) == (GraphRunState.SUCCEEDED, 2)
