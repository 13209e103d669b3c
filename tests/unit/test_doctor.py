"""Readiness checks (domain) and how the CLI prints them."""

from __future__ import annotations

import pytest

from app.render import readiness_text
from domain.readiness import Check, create_compute_pool_sql, ready


def test_a_failed_check_must_carry_its_fix() -> None:
    with pytest.raises(ValueError, match="without a fix"):
        Check("warehouse W", False, "missing")


def test_ready_needs_every_check_and_at_least_one() -> None:
    assert ready([Check("a", True, "x"), Check("b", True, "y")])
    assert not ready([Check("a", True, "x"), Check("b", False, "y", "do z")])
    assert not ready([])


def test_each_failure_is_printed_with_the_statement_that_fixes_it() -> None:
    text = readiness_text(
        [Check("a", True, "fine"), Check("pool P", False, "missing", "CREATE …")], "snowflake"
    )

    assert text.splitlines() == [
        "doctor (snowflake):",
        "  ok    a: fine",
        "  FAIL  pool P: missing",
        "        fix: CREATE …",
        "Not ready: 1 of 2 check(s) failed; run the fixes above, then doctor again.",
    ]


def test_the_compute_pool_statement_is_snowflakes_create_if_not_exists() -> None:
    assert create_compute_pool_sql("DEMO_POOL", 3) == (
        "CREATE COMPUTE POOL IF NOT EXISTS DEMO_POOL MIN_NODES = 1 MAX_NODES = 3 INSTANCE_FAMILY = CPU_X64_S"
    )
