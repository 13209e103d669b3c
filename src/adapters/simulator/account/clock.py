"""The one "now" of the simulated catalog: naive UTC, as DuckDB ``TIMESTAMP`` columns hold it (``CREATED_ON``
and the like), read from the domain's system clock."""

from __future__ import annotations

from datetime import datetime

from domain.schedule import utc_now


def catalog_now() -> datetime:
    """The current time in UTC without a zone, for a catalog row."""
    return utc_now().replace(tzinfo=None)
