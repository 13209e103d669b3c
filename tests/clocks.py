"""The one test clock: a ``domain.schedule.Clock`` that moves only when told to.

Production code takes a ``Clock`` (a zero-argument callable returning the aware current time; ``utc_now`` is
the system clock), so tests hand it this and move time with ``advance``/``set`` instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 2, 10, 9, 28, 49, tzinfo=UTC)


class FakeClock:
    """Reads ``start`` until moved; safe to read from the engine's threads while a test moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = _aware(start)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)`` (``advance(hours=5, minutes=30)``); returns the new time."""
        step = timedelta(**delta)
        if step < timedelta(0):
            raise ValueError(f"FakeClock.advance({delta}): a clock does not move backwards; use set()")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = _aware(when)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"FakeClock time {when!r} must be time-zone aware")
    return when
