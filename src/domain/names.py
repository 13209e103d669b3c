"""Snowflake identifier rules, shared by both backends so a name valid here is valid there.

Unquoted identifiers start with a letter or ``_``, hold letters, digits, ``_`` and ``$``, and resolve to upper
case; double-quoted identifiers keep their case and may hold anything but a bare double quote. Anything else —
including attempts like ``x"; drop table t; --`` — is refused with ``InvalidName`` before it reaches SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidName

_UNQUOTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")
_QUOTED = re.compile(r'^"((?:[^"]|""){1,255})"$')
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_VERSION_FORMAT = "v%Y%m%d_%H%M%S"


@dataclass(frozen=True)
class ObjectNames:
    """The account objects the pipeline uses, with the guide's names (its ``constants.py``) as defaults.

    The one place these defaults are written: ``app.settings`` fills them from the config file and the
    environment, ``domain.config.PipelineConfig`` takes the ones a deployed task reads from its graph config,
    and each backend derives its own forms (SQL text, stages, folders) from one of these.
    """

    role: str = "ENGINEER"
    database: str = "SNOWBANK"
    schema: str = "DEV"
    data_schema: str = "DATA"
    warehouse: str = "DEMO_WH"
    compute_pool: str = "DEMO_POOL"
    notification_integration: str = "DEMO_NOTIFICATION_INTEGRATION"
    source_table: str = "MORTGAGE_LENDING_DEMO_DATA"


DEFAULT_NAMES = ObjectNames()


def normalize_identifier(name: str, what: str = "object") -> str:
    """Resolve one identifier as Snowflake does: unquoted → UPPER, quoted → as written (unquoted)."""
    if not isinstance(name, str):
        raise InvalidName(f"{what} name must be a string, got {type(name).__name__} {name!r}")
    if _UNQUOTED.match(name):
        return name.upper()
    m = _QUOTED.match(name)
    if m:
        return m.group(1).replace('""', '"')
    raise InvalidName(
        f"invalid {what} name {name!r}: use letters, digits, '_' and '$' (starting with a letter or '_'), "
        f"at most 255 characters, or a double-quoted identifier"
    )


def normalize_qualified(name: str, what: str = "object") -> tuple[str, ...]:
    """Split ``[DB.][SCHEMA.]NAME`` (quotes respected) and normalize each part."""
    if not isinstance(name, str) or not name:
        raise InvalidName(f"invalid {what} name {name!r}: empty")
    parts: list[str] = []
    current, quoted, i = "", False, 0
    while i < len(name):
        ch = name[i]
        if ch == '"':
            if quoted and i + 1 < len(name) and name[i + 1] == '"':
                current += '""'
                i += 2
                continue
            quoted = not quoted
            current += ch
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
        i += 1
    parts.append(current)
    if quoted or len(parts) > 3:
        raise InvalidName(f"invalid {what} name {name!r}: expected [database.][schema.]name")
    return tuple(normalize_identifier(p, what) for p in parts)


def validate_version(version: str, what: str = "version") -> str:
    """Dataset and feature-view version names: case is kept; letters, digits, ``_ . -``; at most 128."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidName(
            f"invalid {what} {version!r}: start with a letter or digit, then letters, digits, '_', '.', '-' "
            f"(at most 128 characters)"
        )
    return version


def model_version_for(scheduled_time: datetime) -> str:
    """The model version a graph run trains and names its artifacts by: the run's original scheduled time as
    ``vYYYYmmdd_HHMMSS`` (not the graph run's own numeric ``GraphRun.run_id``)."""
    return scheduled_time.strftime(_VERSION_FORMAT)


def version_from_timestamp(ts: datetime) -> str:
    """A data version from a table's last-altered time, in the same ``vYYYYmmdd_HHMMSS`` form."""
    return ts.strftime(_VERSION_FORMAT)
