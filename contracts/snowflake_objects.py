"""Unique, self-cleaning object names for contract tests on a real Snowflake account.

Each test gets names with a per-run suffix (``CT_<8 hex>_<label>``) so concurrent runs never collide, and
registers what it created so the fixture drops it afterwards, whatever the test's outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

PREFIX = "CT_"


def unique_name(label: str) -> str:
    """An identifier that no other test run uses, e.g. ``CT_1A2B3C4D_MODEL``."""
    return f"{PREFIX}{uuid.uuid4().hex[:8].upper()}_{label.upper()}"


class Cleanup:
    """Drop callbacks, run newest first; a failing drop does not stop the others."""

    def __init__(self) -> None:
        self._drops: list[Callable[[], Any]] = []

    def add(self, drop: Callable[[], Any]) -> None:
        self._drops.append(drop)

    def sql(self, session: Any, statement: str) -> None:
        self.add(lambda: session.sql(statement).collect())

    def run(self) -> list[str]:
        failures = []
        for drop in reversed(self._drops):
            try:
                drop()
            except Exception as exc:  # cleanup must try every drop
                failures.append(f"{type(exc).__name__}: {exc}")
        self._drops.clear()
        return failures


@contextmanager
def cleaned_up() -> Iterator[Cleanup]:
    cleanup = Cleanup()
    try:
        yield cleanup
    finally:
        with suppress(Exception):
            cleanup.run()
