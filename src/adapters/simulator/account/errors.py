"""The simulator's one place where DuckDB and file-system exceptions become domain errors.

Adapters wrap their database and file work in ``translated(...)``; what leaks out is always a ``domain.errors``
type. Domain errors raised inside the block pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from domain.errors import AlreadyExists, BackendUnavailable, DomainError, InvalidData, NotFound

_BY_TYPE: tuple[tuple[type[duckdb.Error], type[DomainError]], ...] = (
    (duckdb.CatalogException, NotFound),
    (duckdb.ConstraintException, AlreadyExists),
    (duckdb.ConversionException, InvalidData),
    (duckdb.InvalidInputException, InvalidData),
    (duckdb.OutOfRangeException, InvalidData),
    (duckdb.IOException, BackendUnavailable),
    (duckdb.PermissionException, BackendUnavailable),
)


def translate(exc: duckdb.Error, doing: str) -> DomainError:
    """The domain error for a DuckDB error raised while ``doing`` something (e.g. "loading table X")."""
    for vendor, domain_type in _BY_TYPE:
        if isinstance(exc, vendor):
            return domain_type(f"{doing}: {exc}")
    return BackendUnavailable(f"{doing}: the simulator database failed: {exc}")


@contextmanager
def translated(doing: str) -> Iterator[None]:
    try:
        yield
    except duckdb.Error as exc:
        raise translate(exc, doing) from exc
    except OSError as exc:
        raise BackendUnavailable(f"{doing}: {exc}") from exc
