"""Fixtures several test modules share, and the Hypothesis profile every property test runs under."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from adapters.simulator.account.home import LocalAccount

# Timing is never the property under test, and CI shares two cores with other jobs: a 200 ms deadline (the
# default) fails a correct example on a loaded machine. Example counts stay as each test sets them.
settings.register_profile("loaded", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "loaded"))


@pytest.fixture
def account(tmp_path: Path) -> Iterator[LocalAccount]:
    """A fresh simulator account in a temporary home."""
    with LocalAccount(tmp_path / "home") as acc:
        yield acc
