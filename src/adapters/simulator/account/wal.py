"""A database's write-ahead log that DuckDB would drop is kept, not lost unseen.

DuckDB replays ``<file>.wal`` when it opens ``<file>``, and silently ignores what it cannot deserialize — a torn
tail after a crash, but also a log whose header is garbage — then truncates the log at the next write
(duckdb src/storage/wal_replay.cpp ``WriteAheadLog::ReplayInternal``: serialization errors "signal a torn WAL").
A checksum mismatch inside an entry, by contrast, raises "Failure while replaying WAL file" (``errors.damaged``
names it). So before a database is opened, ``keep_if_dropped`` walks the log's framing the way the replay does
and, when DuckDB would drop part of it, copies it to ``<file>.wal.damaged-<UTC time>`` with a warning naming both.

Kept rather than refused: a torn tail is what a crash mid-commit leaves, and DuckDB's recovery from it (the
database as of the last whole commit) is the right one — refusing would lock a user out of a home after every
such crash, with nothing they could do but move the log aside. The copy keeps the evidence either way.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

# The version entry (write_ahead_log.cpp ``WriteAheadLog::WriteVersion``, not checksummed): BinarySerializer
# fields, each a little-endian uint16 id then a varint value: 100 wal_type = WAL_VERSION (98), 101 version,
# then optionally 102 db_identifier (a list of varints) and 103 checkpoint_iteration, then 0xFFFF (end).
_VERSION_ENTRY = b"\x64\x00\x62\x65\x00"
_CHECKSUMMED = 2  # WAL version 2: each entry is uint64 size, uint64 checksum, then size bytes
_END = 0xFFFF
_ENTRY_HEADER = 16


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """The unsigned LEB128 varint at ``at`` (BinarySerializer's integer encoding) and the offset after it."""
    value = shift = 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")


def _entries_start(head: bytes) -> int | None:
    """Where the entries begin after a version-2 version entry; None when ``head`` is no such entry."""
    if not head.startswith(_VERSION_ENTRY):
        return None
    try:
        version, at = _varint(head, len(_VERSION_ENTRY))
        if version != _CHECKSUMMED:
            return None
        while True:
            field = int.from_bytes(head[at : at + 2], "little")
            at += 2
            if field == _END:
                return at
            if field == 102:  # db_identifier: a count, then that many varints
                count, at = _varint(head, at)
                for _ in range(count):
                    _, at = _varint(head, at)
            elif field == 103:  # checkpoint_iteration
                _, at = _varint(head, at)
            else:
                return None
    except ValueError:
        return None


def replayed_bytes(wal: Path) -> int | None:
    """How many leading bytes of ``wal`` DuckDB's replay reads as whole entries (the rest it drops), or None when
    the log is of a version this does not know (not 2: then DuckDB is left to judge it alone)."""
    size = wal.stat().st_size
    with wal.open("rb") as f:
        head = f.read(256)  # the version entry is < 64 bytes
        at = _entries_start(head)
        if at is None:
            # a log DuckDB wrote starts with the version entry; anything else it cannot deserialize at all
            return None if head.startswith(_VERSION_ENTRY) else 0
        while at + _ENTRY_HEADER <= size:
            f.seek(at)
            length = int.from_bytes(f.read(8), "little")
            if at + _ENTRY_HEADER + length > size:
                break
            at += _ENTRY_HEADER + length
        return at


def _in_use(database: Path) -> bool:
    """Whether a DuckDB already has ``database`` open — this process or another, whose log may be mid-write: the
    log is then not judged (DuckDB replays it only when it first opens the file). This process's own descriptors
    are looked up in /proc rather than probed: closing a probe would release DuckDB's POSIX lock on the file."""
    target = database.resolve()
    try:
        for fd in Path("/proc/self/fd").iterdir():
            try:
                if Path(os.readlink(fd)) == target:
                    return True
            except OSError:
                continue
    except OSError:  # no /proc: whether this process has it open cannot be told, so it is not judged
        return True
    try:
        with database.open("rb") as f:
            fcntl.lockf(
                f, fcntl.LOCK_SH | fcntl.LOCK_NB
            )  # DuckDB holds an exclusive lock while it has it open
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def keep_if_dropped(database: Path) -> Path | None:
    """Copy ``database``'s WAL aside when DuckDB would drop part of it on open; the copy's path, else None."""
    wal = database.with_name(database.name + ".wal")
    try:
        if not wal.is_file() or wal.stat().st_size == 0:  # an empty log holds nothing (DuckDB deletes it)
            return None
        if _in_use(database):
            return None
        replayed = replayed_bytes(wal)
        size = wal.stat().st_size
        if replayed is None or replayed == size:
            return None
        copy = wal.with_name(f"{wal.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        shutil.copy2(wal, copy)
    except OSError as exc:  # the check must never be why a home cannot open: DuckDB still replays the log
        log.warning("could not check the write-ahead log %s: %s", wal, exc)
        return None
    log.warning(
        "the write-ahead log %s cannot be replayed whole: DuckDB drops its last %d of %d bytes (%s); a copy is kept "
        "as %s",
        wal,
        size - replayed,
        size,
        "its header is not a DuckDB log"
        if replayed == 0
        else "an entry is cut short, as a crash mid-write leaves",
        copy,
    )
    return copy
