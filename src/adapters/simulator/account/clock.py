"""The one "now" of the simulated catalog: naive UTC, as DuckDB ``TIMESTAMP`` columns hold it (``CREATED_ON``
and the like), read from the domain's system clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.schedule import utc_now

# How long finished graph runs (with their task rows) and sent notifications are kept ([graph] history_days).
# Snowflake keeps INFORMATION_SCHEMA.TASK_HISTORY 7 days and ACCOUNT_USAGE.TASK_HISTORY a year; a week is what a
# task can query here (history_sql) and bounds the home at a week of runs (~13 KiB each, with their captured
# output) instead of growing forever.
HISTORY_RETENTION = timedelta(days=7)


def catalog_now() -> datetime:
    """The current time in UTC without a zone, for a catalog row."""
    return utc_now().replace(tzinfo=None)
