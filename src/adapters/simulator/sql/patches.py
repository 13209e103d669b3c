"""Fixes to fakesnow below the statement level (result conversion), installed once by the SQL server.

Statement-level gaps are rewritten in ``hooks``; these are the ones no statement rewrite can reach.
"""

from __future__ import annotations

import fakesnow.arrow
import fakesnow.info_schema
import fakesnow.server as fs_server
import fakesnow.transforms
import fakesnow.transforms.stage
import pyarrow as pa
import pyarrow.compute as pc
from fakesnow.params import MutableParams
from sqlglot import exp

from adapters.simulator.account import table_times as table_times_catalog
from adapters.simulator.sql import snowpark_forms, stages, table_times
from adapters.simulator.sql.scripting import is_block
from adapters.simulator.sql.statements import Statement

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


_original_identifier = fakesnow.transforms.identifier


def _identifier(expression: exp.Expr, params: MutableParams | None) -> exp.Expr:
    """fakesnow/transforms/transforms.py ``identifier`` with a quoted qualified name split into its parts: it reads
    ``IDENTIFIER('"DB"."SCHEMA"."T"')`` as the one identifier ``DB"."SCHEMA"."T``, because the whole value starts
    and ends with a quote. Snowpark and the connector's ``write_pandas`` name every temporary stage and table so
    (snowflake/connector/pandas_tools.py ``_create_temp_stage``)."""
    table = _original_identifier(expression, params)
    if (
        table is not expression
        and isinstance(table, exp.Table)
        and not table.db
        and table.this.quoted
        and '"."' in table.name
    ):
        return exp.to_table(f'"{table.name}"', dialect="snowflake")
    return table


_original_per_db_creation_sql = fakesnow.info_schema.per_db_creation_sql


def _per_db_creation_sql(catalog: str) -> str:
    """fakesnow/info_schema.py ``per_db_creation_sql`` with the database's table times (account/table_times.py),
    which INFORMATION_SCHEMA.TABLES now reads: fakesnow/cursor.py ``_execute`` runs it after CREATE DATABASE."""
    return f"{_original_per_db_creation_sql(catalog)};\n{table_times_catalog.creation_sql(catalog)};"


_original_parse_one = fs_server.parse_one  # type: ignore[attr-defined]


def _parse_request(command: str) -> exp.Expr:
    """fakesnow/server.py ``query_request`` parses each statement before running it, only to name its type; a
    Snowflake Scripting block does not parse in sqlglot, and runs in the statement rules (scripting.py); nor does
    Snowpark's ``CREATE TABLE T IF NOT EXISTS (…)``, read here in the order the rules rewrite it to."""
    if is_block(command):
        return exp.Command(this="BEGIN", expression=exp.Literal.string(command))
    return _original_parse_one(snowpark_forms.if_not_exists_after_name(Statement(command, None)) or command)


def install() -> None:
    # fakesnow/arrow.py ``to_sf`` and fakesnow/cursor.py ``_transform`` look these up in their modules at call time
    fakesnow.arrow.timestamp_to_sf_struct = _timestamp_to_sf_struct
    fakesnow.transforms.identifier = _identifier
    fakesnow.transforms.information_schema_fs = table_times.information_schema_fs
    fakesnow.info_schema.per_db_creation_sql = _per_db_creation_sql
    # Stage files in the served account's home, not fakesnow's one folder of the process (stages.py): every
    # reader of LOCAL_BUCKET_PATH, looked up in its module at call time (fakesnow/transforms/stage.py,
    # fakesnow/copy_into.py, fakesnow/server.py ``query_request`` and ``bucket_upload``)
    fakesnow.transforms.stage.internal_dir = stages.internal_dir
    fakesnow.transforms.stage.is_internal = stages.is_internal
    fakesnow.transforms.stage.internal_files_sql = stages.internal_files_sql
    fakesnow.transforms.stage.internal_file_name = stages.internal_file_name
    fs_server.gcs_stage_info = stages.gcs_stage_info
    fs_server._write_bucket_file = stages.write_bucket_file
    fs_server.parse_one = _parse_request  # type: ignore[attr-defined]
