"""Setup's upload runs through Snowpark's own ``Session.write_pandas`` and the connector's own ``write_pandas``.

Only the server is stood in: a connection whose cursor records each statement, keeps the Parquet file the
connector writes, and answers ``INFER_SCHEMA`` from that file the way Snowflake types Parquet columns.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from snowflake.snowpark import Session
from snowflake.snowpark._internal.ast.batch import AstBatch

from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.setup import setup_snowflake
from domain.errors import InvalidData
from tests.unit.snowflake.sf_fakes import ScriptedSession


def _inferred_type(field: pa.Field, logical_types: bool) -> str:
    """INFER_SCHEMA's type for a Parquet column.

    A Parquet timestamp is a logical type over INT64: Snowflake reads it as a timestamp only with the file
    format option USE_LOGICAL_TYPE = TRUE; without it write_pandas' auto_create_table makes the column a
    number (snowflake-connector-python #1820 "write_pandas casts pd.Timestamp --> INTEGER", #1677; the option
    was added to write_pandas for this in PR #1707). Naive timestamps are TIMESTAMP_NTZ, UTC-adjusted ones
    TIMESTAMP_LTZ (snowflake/snowpark/session.py write_pandas docstring, note 3).
    """
    kind = field.type
    if pa.types.is_timestamp(kind):
        if not logical_types:
            return "NUMBER(38, 0)"
        return "TIMESTAMP_LTZ(9)" if kind.tz else "TIMESTAMP_NTZ(9)"
    if pa.types.is_integer(kind):
        return "NUMBER(38, 0)"
    if pa.types.is_floating(kind):
        return "REAL"
    return "TEXT"


class RecordingCursor:
    """The cursor calls snowflake/connector/pandas_tools.py ``write_pandas`` makes (execute, _upload, …)."""

    def __init__(self, server: RecordingConnection) -> None:
        self._server = server
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Any = None, **_options: Any) -> RecordingCursor:
        self._server.statements.append(sql)
        if "FILE FORMAT" in sql:
            self._server.logical_types = "USE_LOGICAL_TYPE = TRUE" in sql
        if "infer_schema(" in sql:
            schema = pq.read_schema(self._server.parquet)
            self._rows = [(f.name, _inferred_type(f, self._server.logical_types)) for f in schema]
        elif sql.startswith("COPY INTO"):
            rows = pq.read_metadata(self._server.parquet).num_rows
            self._rows = [("file0.txt", "LOADED", rows, rows)]  # file, status, rows_parsed, rows_loaded
        else:
            self._rows = []
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def _upload(self, local_file_name: str, stage_location: str, options: dict[str, Any]) -> None:
        path = re.fullmatch(r"'file://(.*)'", local_file_name)
        assert path is not None, local_file_name
        self._server.parquet = pa.BufferReader(open(path.group(1), "rb").read())  # noqa: SIM115

    def _log_telemetry_job_data(self, *_args: Any) -> None:
        """write_pandas reports usage here; offline nothing is sent."""

    def close(self) -> None:
        """Nothing to release."""


class RecordingConnection:
    _session_parameters: dict[str, Any] = {}

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.parquet: Any = None
        self.logical_types = False

    def cursor(self) -> RecordingCursor:
        return RecordingCursor(self)


class SetupSession(ScriptedSession):
    """A session whose ``write_pandas`` is Snowpark's own, over the recording connection."""

    write_pandas = Session.write_pandas

    def __init__(self) -> None:
        super().__init__()
        self.server = RecordingConnection()
        self._conn = SimpleNamespace(_conn=self.server)  # Session.write_pandas passes self._conn._conn on
        self._ast_batch = AstBatch(self)  # where Session.write_pandas records its call when AST is on

    def table(self, name: str, _emit_ast: bool = True) -> Any:
        # What Session.write_pandas returns; it sets the telemetry source and AST id on it.
        return SimpleNamespace(_select_statement=SimpleNamespace(), table_name=name)


def _created_columns(session: SetupSession) -> dict[str, str]:
    create = next(s for s in session.server.statements if s.startswith("CREATE  TABLE"))
    columns = re.search(r"\((.*)\)", create)
    assert columns is not None, create
    return dict(re.findall(r'"(\w+)" ([A-Z_]+(?:\([^)]*\))?)', columns.group(1)))


ROWS = 60  # enough loans and labels of each class for setup's data rules (domain.features.check_source_rows)


def _frame(ts: Any) -> pd.DataFrame:
    """``ROWS`` rows whose TS cycles through the two values of ``ts``."""
    return pd.DataFrame(
        {
            "LOAN_ID": range(1, ROWS + 1),
            "TS": pd.Series(ts).iloc[[i % 2 for i in range(ROWS)]].reset_index(drop=True),
            "LOAN_AMOUNT_000s": [100.0, 250.0] * (ROWS // 2),
            "APPLICANT_INCOME_000s": [80.0] * ROWS,
            "MORTGAGERESPONSE": [0, 1] * (ROWS // 2),
        }
    )


def test_a_datetime64_ts_column_is_created_as_timestamp_ntz() -> None:
    session = SetupSession()
    report = setup_snowflake(
        session, SnowflakeNames(), data=_frame(pd.to_datetime(["2024-05-01", "2024-05-02"]))
    )
    assert report.rows_uploaded == ROWS
    columns = _created_columns(session)
    assert columns["TS"] == "TIMESTAMP_NTZ(9)"
    assert columns["LOAN_AMOUNT_000s"] == "REAL"


def test_the_copy_reads_parquet_logical_types() -> None:
    session = SetupSession()
    setup_snowflake(session, SnowflakeNames(), data=_frame(pd.to_datetime(["2024-05-01", "2024-05-02"])))
    copy = next(s for s in session.server.statements if s.startswith("COPY INTO"))
    assert "USE_LOGICAL_TYPE = TRUE" in copy


def test_ts_text_and_zoned_ts_load_as_the_same_utc_wall_clock() -> None:
    text, zoned = SetupSession(), SetupSession()
    setup_snowflake(text, SnowflakeNames(), data=_frame(["2024-05-01 17:00:00", "2024-05-02 17:00:00"]))
    setup_snowflake(
        zoned,
        SnowflakeNames(),
        data=_frame(
            pd.to_datetime(["2024-05-01 10:00", "2024-05-02 10:00"]).tz_localize("America/Los_Angeles")
        ),
    )
    for session in (text, zoned):
        assert _created_columns(session)["TS"] == "TIMESTAMP_NTZ(9)"
        written = pq.read_table(session.server.parquet).column("TS").to_pylist()
        assert [str(t) for t in written[:2]] == ["2024-05-01 17:00:00", "2024-05-02 17:00:00"]


def test_a_ts_column_that_is_not_time_is_refused_naming_it() -> None:
    with pytest.raises(InvalidData, match="source column TS must hold ISO 8601 timestamps"):
        setup_snowflake(SetupSession(), SnowflakeNames(), data=_frame(["soon", "later"]))
