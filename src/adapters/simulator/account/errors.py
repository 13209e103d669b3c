"""The simulator's one table of DuckDB and file-system exceptions → domain errors.

Every simulator module that runs DuckDB work translates through ``translate``/``translated``; what leaks out
is always a ``domain.errors`` type, and domain errors raised inside a ``translated`` block pass through
unchanged. The table (``_RULES``) classifies each DuckDB exception once. What it leaves open is decided by the
``Source`` of the work, the one thing that differs between places:

- ``ACCOUNT``: the adapters' own statements over the caller's values, on the home's files (the default);
- ``USER_INPUT``: a user's task SQL or data file, which names files of its own: an I/O error there is the
  input's fault (``InvalidData``), not the backend's;
- ``ENGINE_STATE``: the task-graph engine's own statements over its own tables: nothing in them came from the
  caller, so whatever fails is the backend's (``BackendUnavailable``), never "not found" or "invalid".
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    DomainError,
    InvalidConfig,
    InvalidData,
    NotFound,
)


@dataclass(frozen=True)
class Source:
    """Whose statement (and files) a DuckDB error came from."""

    unclassified: type[DomainError]
    """The domain error for what the table leaves open: I/O and permission errors, and unknown ones."""
    caller_errors: bool = True
    """False when nothing in the work came from the caller: the table's caller-side errors are then the
    backend's too."""


ACCOUNT = Source(unclassified=BackendUnavailable)
USER_INPUT = Source(unclassified=InvalidData)
ENGINE_STATE = Source(unclassified=BackendUnavailable, caller_errors=False)


@dataclass(frozen=True)
class _Rule:
    vendor: type[duckdb.Error]
    domain: type[DomainError] | None  # None: left to the Source
    says: str = ""  # a phrase the (lower-cased) message must contain; "" matches any


_NO_SPACE = "no space left on device"

# First match wins: message-specific rules come before their class's general one.
_RULES: tuple[_Rule, ...] = (
    # The home's database file itself: another process holds its lock, or it is damaged (a checksum mismatch
    # says "Corrupt database file: computed checksum …"; a user's damaged Parquet file says "metadata is
    # corrupt" instead, and is the Source's to classify).
    _Rule(duckdb.IOException, BackendUnavailable, "could not set lock"),
    _Rule(duckdb.Error, BackendUnavailable, "corrupt database file"),
    _Rule(duckdb.Error, BackendUnavailable, "corrupt wal file"),
    _Rule(duckdb.Error, BackendUnavailable, "database file appears to be corrupted"),
    # A full disk is the backend's, whoever's file it was ('Could not write file "…": No space left on device', as
    # an IOException, or a TransactionException when a commit finds the disk full).
    _Rule(duckdb.Error, BackendUnavailable, _NO_SPACE),
    # Whose file or transaction failed is the Source's to say (the home's, or a user's SQL or data file's).
    _Rule(duckdb.IOException, None),
    _Rule(duckdb.PermissionException, None),
    _Rule(duckdb.TransactionException, None),
    # The engine itself: out of resources, stopped, or broken.
    _Rule(duckdb.OutOfMemoryException, BackendUnavailable),
    _Rule(duckdb.InterruptException, BackendUnavailable),
    _Rule(duckdb.FatalException, BackendUnavailable),
    _Rule(duckdb.InternalException, BackendUnavailable),
    _Rule(duckdb.ConnectionException, BackendUnavailable),
    # The request: a missing object, a duplicate key, a bad statement, a bad value.
    _Rule(duckdb.CatalogException, NotFound),
    _Rule(duckdb.ConstraintException, AlreadyExists, "duplicate key"),
    _Rule(duckdb.ConstraintException, InvalidData),  # NOT NULL, CHECK, FOREIGN KEY
    _Rule(duckdb.ParserException, InvalidConfig),
    _Rule(duckdb.SyntaxException, InvalidConfig),
    _Rule(duckdb.BinderException, InvalidConfig),
    _Rule(duckdb.ConversionException, InvalidData),
    _Rule(duckdb.TypeMismatchException, InvalidData),
    _Rule(duckdb.OutOfRangeException, InvalidData),
    _Rule(duckdb.InvalidInputException, InvalidData),
)

_CALLER_ERRORS = (NotFound, AlreadyExists, InvalidConfig, InvalidData)


def classify(exc: duckdb.Error, source: Source = ACCOUNT) -> type[DomainError]:
    """The domain error type for a DuckDB error raised by work from ``source``."""
    domain = next(
        (r.domain for r in _RULES if isinstance(exc, r.vendor) and r.says in str(exc).lower()), None
    )
    if domain is None:
        return source.unclassified
    if not source.caller_errors and issubclass(domain, _CALLER_ERRORS):
        return BackendUnavailable
    return domain


_WRITING = re.compile(r'Could not write file \\?"(.+?)\\?"')


def no_space(doing: str, path: object) -> BackendUnavailable:
    """A full disk, said the one way: what was being done and the path it could not write."""
    return BackendUnavailable(f"{doing}: no space left on {path}; free some space and run again")


def translate(exc: duckdb.Error, doing: str, source: Source = ACCOUNT) -> DomainError:
    """The domain error for a DuckDB error raised while ``doing`` something (e.g. "loading table X")."""
    text = str(exc)
    if _NO_SPACE in text.lower():
        written = _WRITING.search(text)
        return no_space(doing, written.group(1) if written else "the device")
    return classify(exc, source)(f"{doing}: {text}")


@contextmanager
def translated(doing: str, source: Source = ACCOUNT) -> Iterator[None]:
    """Translate DuckDB errors (by the table) and OSErrors (I/O: the ``source``'s to classify) of a block."""
    try:
        yield
    except duckdb.Error as exc:
        raise translate(exc, doing, source) from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:  # the backend's, whoever's file it was
            raise no_space(doing, exc.filename if exc.filename is not None else "the device") from exc
        raise source.unclassified(f"{doing}: {exc}") from exc
