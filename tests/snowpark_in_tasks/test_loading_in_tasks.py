"""Loading pandas frames from a task: Snowpark's ``write_pandas`` and ``create_dataframe(pandas_df)``.

Both go through the connector's write_pandas (snowflake/connector/pandas_tools.py): PUT of a Parquet file,
``table(infer_schema(...))`` — which fakesnow lacks — and ``COPY INTO … FROM (SELECT $1:… FROM '@stage')``,
which fakesnow/copy_into.py ``_from_source`` refuses quoted (001011). Served by adapters/simulator/sql/loading.py.
"""

from __future__ import annotations

import pandas as pd
from snowflake.snowpark import Session

from adapters.simulator import LocalDAGOperation
from tests.snowpark_in_tasks.test_dataframes_in_tasks import op, run_task

__all__ = ["op"]  # the fixture


def test_write_pandas_creates_the_table_from_the_frames_columns(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[object, ...]]:
        frame = pd.DataFrame({"ID": [1, 2], "NAME": ["x", "y"], "RATE": [0.5, 1.5]})
        s.write_pandas(frame, "SCORES", auto_create_table=True)
        described = s.sql("describe table SCORES").collect()
        rows = s.table("SCORES").sort("ID").collect()
        return [(r["name"], r["type"]) for r in described] + [tuple(r) for r in rows]

    assert run_task(op, body) == [
        ("ID", "NUMBER(38,0)"),
        ("NAME", "VARCHAR(16777216)"),
        ("RATE", "FLOAT"),
        (1, "x", 0.5),
        (2, "y", 1.5),
    ]


def test_write_pandas_overwrite_replaces_an_existing_tables_rows(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[object, ...]]:
        frame = pd.DataFrame({"ID": [7], "GRP": ["z"], "AMOUNT": [70]})
        s.write_pandas(frame, "LOANS", overwrite=True)
        return [tuple(r) for r in s.table("LOANS").collect()]

    assert run_task(op, body) == [(7, "z", 70)]


def test_write_pandas_appends_to_an_existing_table(op: LocalDAGOperation) -> None:
    def body(s: Session) -> int:
        s.write_pandas(pd.DataFrame({"ID": [4], "GRP": ["c"], "AMOUNT": [40]}), "LOANS")
        return s.table("LOANS").count()

    assert run_task(op, body) == 4


def test_create_dataframe_of_a_pandas_frame_collects_its_rows(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[object, ...]]:
        frame = s.create_dataframe(pd.DataFrame({"A": [1, 2], "B": ["p", "q"]}))
        return [tuple(r) for r in frame.sort("A").collect()]

    assert run_task(op, body) == [(1, "p"), (2, "q")]


def test_infer_schema_reports_snowflakes_columns_for_a_staged_parquet_file(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[object, ...]]:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "scores.parquet"
            pd.DataFrame({"ID": [1], "NAME": ["x"]}).to_parquet(path)
            s.sql("create stage PARQUET_LANDING").collect()
            s.file.put(str(path), "@PARQUET_LANDING", auto_compress=False)
        rows = s.sql(
            "select * from table(infer_schema(location=>'@PARQUET_LANDING', file_format=>'PARQUET_FORMAT'))"
        ).collect()
        return [tuple(r) for r in rows]

    assert run_task(op, body) == [
        ("ID", "NUMBER(38, 0)", True, '$1:"ID"::NUMBER(38, 0)', "scores.parquet", 0),
        ("NAME", "TEXT", True, '$1:"NAME"::TEXT', "scores.parquet", 1),
    ]
