"""Fixes to fakesnow below the statement level (result conversion), installed once by the SQL server.

Statement-level gaps are rewritten in ``hooks``; these are the ones no statement rewrite can reach.
"""

from __future__ import annotations

import fakesnow.arrow
import pyarrow as pa
import pyarrow.compute as pc

_original_timestamp_to_sf_struct = fakesnow.arrow.timestamp_to_sf_struct


def _timestamp_to_sf_struct(ts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """fakesnow/arrow.py ``timestamp_to_sf_struct`` with NULLs kept: it builds the epoch/fraction struct without
    a validity mask, so the connector reads a NULL timestamp as 1970-01-01 (``TaskContext`` reads
    ``to_timestamp(NULL)`` for "no last successful run")."""
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    if not ts.null_count:
        return _original_timestamp_to_sf_struct(ts)
    filled = pc.fill_null(ts, pa.scalar(0, type=ts.type))  # the struct's fields are declared not nullable
    struct = _original_timestamp_to_sf_struct(filled)
    return pa.StructArray.from_arrays(arrays=struct.flatten(), fields=list(struct.type), mask=ts.is_null())


def install() -> None:
    # fakesnow/arrow.py ``to_sf`` looks the function up in its module at call time
    fakesnow.arrow.timestamp_to_sf_struct = _timestamp_to_sf_struct
