"""Unloading a query's rows to a stage and reading them back, from a task's Snowpark session.

``DataFrame.write.copy_into_location`` sends ``COPY INTO @stage/path FROM (query) FILE_FORMAT = (…) …``
(snowflake/snowpark/_internal/analyzer/analyzer_utils.py ``copy_into_location``), which fakesnow cannot serve;
``session.read.parquet`` creates a temporary file format, asks INFER_SCHEMA, drops the format and selects from the
stage (snowflake/snowpark/dataframe_reader.py ``_infer_schema_for_file_format``). Served by
adapters/simulator/sql/unloading.py. Docs: https://docs.snowflake.com/en/sql-reference/sql/copy-into-location
"""

from __future__ import annotations

import gzip

from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator import LocalDAGOperation
from tests.snowpark_in_tasks.test_dataframes_in_tasks import op, run_task

__all__ = ["op"]  # the fixture


def _file(s: Session, path: str) -> bytes:
    """The bytes of the staged file ``path`` (``@stage/…``), fetched with GET."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        s.file.get(path, folder)
        return (Path(folder) / path.rsplit("/", 1)[-1]).read_bytes()


def test_copy_into_location_writes_a_snappy_parquet_file_and_reports_the_rows_unloaded(
    op: LocalDAGOperation,
) -> None:
    def body(s: Session) -> tuple[list[str], int]:
        s.sql("create stage ST").collect()
        [result] = s.table("LOANS").write.copy_into_location(
            "@ST/out/", file_format_type="parquet", header=True, overwrite=True
        )
        return [r["name"] for r in s.sql("list @ST").collect()], result["rows_unloaded"]

    assert run_task(op, body) == (["st/out/data_0_0_0.snappy.parquet"], 3)


def test_read_parquet_of_an_unloaded_location_returns_its_rows(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[object, ...]]:
        s.sql("create stage ST").collect()
        s.table("LOANS").write.copy_into_location("@ST/out/", file_format_type="parquet", header=True)
        return [tuple(r) for r in s.read.parquet("@ST/out/").sort("ID").collect()]

    assert run_task(op, body) == [(1, "a", 10), (2, "b", 20), (3, "b", 30)]


def test_csv_unload_is_gzipped_with_a_header_and_the_location_prefix_names_the_file(
    op: LocalDAGOperation,
) -> None:
    def body(s: Session) -> tuple[list[str], str]:
        s.sql("create stage ST").collect()
        s.sql("copy into @ST/csv/loans from LOANS file_format = (type = csv) header = true").collect()
        names = [r["name"] for r in s.sql("list @ST").collect()]
        return names, gzip.decompress(_file(s, "@ST/csv/loans_0_0_0.csv.gz")).decode()

    assert run_task(op, body) == (["st/csv/loans_0_0_0.csv.gz"], "ID,GRP,AMOUNT\n1,a,10\n2,b,20\n3,b,30\n")


def test_csv_unload_with_single_no_compression_and_a_field_delimiter(op: LocalDAGOperation) -> None:
    def body(s: Session) -> str:
        s.sql("create stage ST").collect()
        s.sql(
            "copy into @ST/loans.psv from (select ID, GRP from LOANS order by ID) "
            "file_format = (type = csv compression = none field_delimiter = '|') single = true"
        ).collect()
        return _file(s, "@ST/loans.psv").decode()

    assert run_task(op, body) == "1|a\n2|b\n3|b\n"


def test_unloading_onto_an_existing_file_without_overwrite_fails(op: LocalDAGOperation) -> None:
    def body(s: Session) -> str:
        s.sql("create stage ST").collect()
        unload = "copy into @ST/out/ from LOANS file_format = (type = parquet)"
        s.sql(unload).collect()
        try:
            s.sql(unload).collect()
        except SnowparkSQLException as exc:
            return exc.message
        return "unloaded twice"

    assert "Files already existing at the unload destination: @ST/out/" in run_task(op, body)


def test_an_unload_option_the_simulator_does_not_serve_is_named_unsupported(op: LocalDAGOperation) -> None:
    def body(s: Session) -> str:
        s.sql("create stage ST").collect()
        try:
            s.sql("copy into @ST/out/ from LOANS partition by (GRP) file_format = (type = parquet)").collect()
        except SnowparkSQLException as exc:
            return exc.message
        return "unloaded"

    message = run_task(op, body)
    assert "Unsupported: " in message and "not PARTITION BY" in message


def test_drop_file_format_removes_the_format_and_if_exists_tolerates_a_missing_one(
    op: LocalDAGOperation,
) -> None:
    def body(s: Session) -> tuple[list[str], list[str], str]:
        s.sql("create file format PIPES type = csv field_delimiter = '|'").collect()
        dropped = [r[0] for r in s.sql("drop file format PIPES").collect()]
        again = [r[0] for r in s.sql("drop file format if exists PIPES").collect()]
        try:
            s.sql("drop file format PIPES").collect()
        except SnowparkSQLException as exc:
            return dropped, again, exc.message
        return dropped, again, "dropped twice"

    assert run_task(op, body) == (
        ["PIPES successfully dropped."],
        ["Drop statement executed successfully (PIPES already dropped)."],
        "002003 (02000): SQL compilation error:\nFile format 'PIPES' does not exist or not authorized.",
    )
