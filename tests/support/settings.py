"""Settings for tests, through the one settings loader (``app.settings.load_settings``)."""

from __future__ import annotations

import os
from pathlib import Path

from app.settings import Settings, load_settings


def simulator_settings(home: Path) -> Settings:
    """The simulator on ``home`` with every default: no environment leaks into a test."""
    return load_settings(env={}, backend="simulator", home=home)


def snowflake_settings(connection: str) -> Settings:
    """A real account through connections.toml entry ``connection``; the environment may name the objects
    (``SNOWFLAKE_DATABASE``, …), as in the nightly workflow."""
    return load_settings(env=os.environ, backend="snowflake", connection=connection)
