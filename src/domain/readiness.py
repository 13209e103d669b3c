"""Readiness: whether a deploy (and its first run) would work on a backend, one check at a time.

Both backends' ``doctor`` return a list of ``Check``; each failed check carries the exact statement (or command)
that fixes it. The compute pool's CREATE text lives here because both backends name it in their errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One readiness check: ``name`` of what was checked, ``ok``, what was found, and the fix when not ok."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if not self.ok and not self.fix:
            raise ValueError(
                f"check {self.name!r} failed without a fix; every failed check says what fixes it"
            )


def ready(checks: Sequence[Check]) -> bool:
    """True when every check passed (and there was at least one)."""
    return bool(checks) and all(c.ok for c in checks)


def create_compute_pool_sql(pool: str, max_nodes: int) -> str:
    """The statement that creates compute pool ``pool`` (SQL text) for ML Jobs of up to ``max_nodes`` instances."""
    return (
        f"CREATE COMPUTE POOL IF NOT EXISTS {pool} MIN_NODES = 1 MAX_NODES = {max_nodes} "
        "INSTANCE_FAMILY = CPU_X64_S"
    )
