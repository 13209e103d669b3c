"""Identifiers and string literals as SQL text, for the statements this package writes itself.

``domain.names.normalize_identifier`` validates a name and resolves it (``snowbank`` → ``SNOWBANK``,
``"My Db"`` → ``My Db``); the resolved form is what SHOW output, INFORMATION_SCHEMA columns and quoting
clients such as ``write_pandas`` compare against. ``identifier`` turns it back into SQL text that names the
same object: bare when that is unambiguous, otherwise double-quoted.
"""

from __future__ import annotations

import re

from domain.names import normalize_identifier

_BARE = re.compile(r"^[A-Z_][A-Z0-9_$]*$")


def identifier(name: str, what: str = "object") -> str:
    """``name`` (validated) as SQL text naming the same object: ``snowbank`` → ``SNOWBANK``, ``"a b"`` kept."""
    return stored_identifier(normalize_identifier(name, what))


def stored_identifier(stored: str) -> str:
    """A name as Snowflake stores it (``SNOWBANK``, ``My Db``) as SQL text naming that object."""
    if _BARE.match(stored):
        return stored
    return '"' + stored.replace('"', '""') + '"'


def string_literal(value: str) -> str:
    """``value`` as a single-quoted Snowflake string literal (``\\`` and ``'`` escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
