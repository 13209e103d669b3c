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


def drop_objects_like(
    session: Any, prefix: str, kinds: tuple[str, ...] = ("DATASET", "TABLE", "MODEL")
) -> list[str]:
    """Drop every object of ``kinds`` whose name starts with ``prefix`` (a name this run generated); returns
    the failures instead of raising, so one stubborn object does not leave the others behind."""
    failures: list[str] = []
    for kind in kinds:
        try:
            rows = session.sql(f"SHOW {kind}S LIKE '{prefix}%'").collect()
        except Exception as exc:  # e.g. a kind this account does not have
            failures.append(f"SHOW {kind}S: {exc}")
            continue
        for row in rows:
            fqn = f'"{row["database_name"]}"."{row["schema_name"]}"."{row["name"]}"'
            try:
                session.sql(f"DROP {kind} IF EXISTS {fqn}").collect()
            except Exception as exc:
                failures.append(f"DROP {kind} {fqn}: {exc}")
    return failures
