"""Due times and the scheduler loop: run started, scheduled graphs when they are due.

As in Snowflake: an interval counts from a base time set when the graph is deployed or resumed; cron fires
at every matching minute in its time zone; missed times are not backfilled (only the next due time fires,
once); under NO_OVERLAP a time that comes while the graph is executing is skipped. Suspended graphs do not
run. Only graphs whose task definitions were deployed in this process can run; others are skipped with a
warning (their Python callables live in the process that deployed them). An error for one graph (it was
dropped meanwhile, say) is logged and the others still run; an error of a whole tick is logged and the loop
goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from adapters.simulator.taskgraph.operation import LocalDAGOperation
from adapters.simulator.taskgraph.store import GraphRecord
from domain.graph import OverlapPolicy, ScheduledFrom
from domain.schedule import Clock, parse_schedule, utc_now

log = logging.getLogger(__name__)


class StopSignal(Protocol):
    """What stops the loop: a ``threading.Event``, or a flag a signal handler sets (``app.local_scheduler``)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float) -> bool: ...


def tick(operation: LocalDAGOperation, now: datetime) -> list[int]:
    """Start every graph that is due at ``now``; returns the run ids started."""
    started: list[int] = []
    for record in operation.store.graphs():
        if record.state != "started" or record.schedule is None or record.next_due is None:
            continue
        if record.next_due > now:
            continue
        try:
            run_id = _fire(operation, record, now)
        except Exception:
            log.exception("graph %s could not be started at %s; the other graphs go on", record.name, now)
            continue
        if run_id is not None:
            started.append(run_id)
    return started


def _fire(operation: LocalDAGOperation, record: GraphRecord, now: datetime) -> int | None:
    """Move a due graph's next time on and start it, unless it must be skipped; the run id or None."""
    due = record.next_due or now
    base = record.schedule_base or due
    operation.store.update_graph(
        record.name, next_due=parse_schedule(record.schedule or "").next_after(now, base=base)
    )
    if not operation.has_definitions(record.name):
        log.warning("graph %s is due but was not deployed in this process; skipped", record.name)
        return None
    if record.overlap_policy == OverlapPolicy.NO_OVERLAP and operation.is_executing(record.name):
        log.info("graph %s is still executing at %s; this scheduled time is skipped", record.name, due)
        return None
    return operation.start(record.name, scheduled_time=due, scheduled_from=ScheduledFrom.SCHEDULE)


def run_scheduler(
    operation: LocalDAGOperation,
    *,
    clock: Clock = utc_now,
    stop_event: StopSignal,
    poll_seconds: float = 1.0,
    after_tick: Callable[[list[int]], object] = lambda _started: None,
) -> None:
    """Run due graphs until ``stop_event`` is set, then wait for the runs it started to end.

    ``after_tick`` gets the run ids each check started (and ``[]`` once all runs ended), to report on them."""
    while not stop_event.is_set():
        started: list[int] = []
        try:
            started = tick(operation, clock())
        except Exception:  # the store was briefly unusable, say: the next tick tries again
            log.exception("scheduler tick failed; retrying in %s s", poll_seconds)
        after_tick(started)
        stop_event.wait(poll_seconds)
    operation.wait_all()
    after_tick([])
