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
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    DomainError,
    InvalidConfig,
    InvalidData,
    NotFound,
    StoreDamaged,
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
    # The home's database file itself: another process holds its lock, or it is damaged (``damaged`` names the
    # file). A user's damaged Parquet file says "metadata is corrupt" instead, and is the Source's to classify.
    _Rule(duckdb.IOException, BackendUnavailable, "could not set lock"),
    # a block's checksum: "Corrupt database file: computed checksum … does not match stored checksum … in block
    # at location …" (a plain duckdb.Error in 2.0.1)
    _Rule(duckdb.Error, StoreDamaged, "corrupt database file"),
    # any WAL replay error but a torn tail: 'Failure while replaying WAL file "…": Corrupt WAL file: entry at
    # byte position … computed checksum …', "… WAL does not match database file." (wal_replay.cpp ReplayInternal)
    _Rule(duckdb.Error, StoreDamaged, "failure while replaying wal file"),
    _Rule(duckdb.Error, StoreDamaged, "corrupt wal file"),
    _Rule(duckdb.Error, StoreDamaged, "database file appears to be corrupted"),
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
_BLOCK = re.compile(r"stored checksum (\d+) in block at location (\d+)")
_WAL = re.compile(r'replaying WAL file \\?"(.+?)\\?"')


@dataclass(frozen=True)
class HomeFiles:
    """The database files of a simulator home: where a damaged block can be."""

    account: Path
    """``<home>/account.duckdb``: the simulator's catalogs, task graphs and their history, registry, outbox."""
    databases: tuple[Path, ...]
    """``<home>/databases/DB.db``: Snowflake database ``DB``."""


def _read_at(file: Path, location: int, size: int) -> bytes | None:
    """``size`` bytes at ``location`` of ``file``, through a descriptor this process already has on it (DuckDB's)
    when there is one: closing a descriptor of our own would release every POSIX lock this process holds on the
    file (fcntl semantics), DuckDB's lock on the home's files among them. None when it cannot be read safely."""
    target = file.resolve()
    fds = Path("/proc/self/fd")
    try:
        for fd in fds.iterdir():
            try:
                if Path(os.readlink(fd)) == target:
                    return os.pread(int(fd.name), size, location)
            except (OSError, ValueError):
                continue
    except OSError:  # no /proc (not Linux): whether DuckDB has the file open cannot be told
        return None
    try:  # not open in this process: no lock of ours to lose
        with file.open("rb") as f:
            f.seek(location)
            return f.read(size)
    except OSError:
        return None


def _holds_block(file: Path, stored_checksum: int, location: int) -> bool:
    """Whether ``file`` has ``stored_checksum`` at ``location``: DuckDB read it from there (a block starts with its
    checksum, single_file_block_manager.cpp ``ReadAndChecksum``), another file holds it by chance 1 in 2**64."""
    data = _read_at(file, location, 8)
    return data is not None and int.from_bytes(data, "little") == stored_checksum


def _damaged_file(text: str, files: HomeFiles | None) -> Path | None:
    """The file a damage message is about: the WAL it names, or the database file holding the bad block."""
    if wal := _WAL.search(text):
        return Path(wal.group(1))
    block = _BLOCK.search(text)
    if block is None or files is None:
        return None
    stored, location = int(block.group(1)), int(block.group(2))
    holding = [f for f in (files.account, *files.databases) if _holds_block(f, stored, location)]
    return holding[0] if len(holding) == 1 else None


def _recovery(file: Path | None, files: HomeFiles | None) -> str:
    """What the damage costs and what to do, for the file it is in."""
    if file is not None and file.suffix == ".wal":
        return (
            f"the write-ahead log {file} cannot be replayed: move it aside (rename it) and the database opens as "
            "of its last checkpoint, losing what the log held since; or restore the home from a copy"
        )
    if file is not None and files is not None and file != files.account:
        return (
            f"the file {file} of Snowflake database {file.stem} is damaged: restore it from a copy, or move it "
            f"out of {file.parent} and run `python -m app setup -f` to make the database and its source table "
            "again (its other tables are lost)"
        )
    if file is not None:
        return (
            f"the simulator's account file {file} is damaged: restore {file.parent} from a copy, or make a new "
            "home with `python -m app --home NEW_HOME setup` (it has none of this home's task graphs, run "
            "history, models, datasets or notification integrations)"
        )
    named = "account.duckdb or databases/*.db" if files is None else f"{files.account.parent}"
    return (
        f"a database file of the simulator home ({named}) is damaged: `python -m app doctor` names it; restore "
        "the home from a copy, or make a new one with `python -m app --home NEW_HOME setup`"
    )


def damaged(exc: duckdb.Error, files: HomeFiles | None = None, doing: str = "") -> StoreDamaged | None:
    """The error for damage DuckDB found (a block or WAL checksum), naming the file — told by the message or by
    where the bad block is among ``files`` — and what to do; None when ``exc`` is no damage."""
    if not issubclass(classify(exc), StoreDamaged):
        return None
    text = str(exc)
    return StoreDamaged(
        f"{doing + ': ' if doing else ''}{_recovery(_damaged_file(text, files), files)} ({text})"
    )


def no_space(doing: str, path: object) -> BackendUnavailable:
    """A full disk, said the one way: what was being done and the path it could not write."""
    return BackendUnavailable(f"{doing}: no space left on {path}; free some space and run again")


def translate(exc: duckdb.Error, doing: str, source: Source = ACCOUNT) -> DomainError:
    """The domain error for a DuckDB error raised while ``doing`` something (e.g. "loading table X")."""
    if (damage := damaged(exc, doing=doing)) is not None:
        return damage
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
