"""Snowpark DataFrame calls whose SQL the simulator rewrites before fakesnow (sql/snowpark_forms.py), and the
server's answer to a statement it fails on unexpectedly.

Each test runs one task through LocalDAGOperation, as test_dataframes_in_tasks.py does.
"""

from __future__ import annotations

from collections.abc import Iterator

import fakesnow.transforms
import pytest
import snowflake.snowpark.functions as F
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException
from snowflake.snowpark.table import MergeResult
from sqlglot import exp

from adapters.simulator import LocalDAGOperation
from tests.snowpark_in_tasks.test_dataframes_in_tasks import run_task

SOURCE = "create or replace table SRC (ID int, AMOUNT int)"
SOURCE_ROWS = "insert into SRC values (1, 11), (4, 40)"


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def test_session_range_generates_the_numbers(op: LocalDAGOperation) -> None:
    # Snowpark writes FROM ( TABLE (GENERATOR(ROWCOUNT => 5))): a table function in parentheses
    rows = run_task(op, lambda s: [r["ID"] for r in s.range(5).collect()])
    assert rows == [0, 1, 2, 3, 4]


def test_session_table_function_flattens_its_argument(op: LocalDAGOperation) -> None:
    rows = run_task(
        op,
        lambda s: [r["VALUE"] for r in s.table_function("flatten", F.parse_json(F.lit("[1, 2]"))).collect()],
    )
    assert rows == ["1", "2"]


def test_save_as_table_append_creates_a_missing_table(op: LocalDAGOperation) -> None:
    # Snowpark writes CREATE TABLE L2 IF NOT EXISTS (…) first (analyzer_utils.py ``create_table_statement``)
    def body(s: Session) -> list[int]:
        s.table("LOANS").write.save_as_table("L2", mode="append")
        s.table("LOANS").write.save_as_table("L2", mode="append")
        return [r["ID"] for r in s.table("L2").sort("ID").collect()]

    assert run_task(op, body) == [1, 1, 2, 2, 3, 3]


def _merge(s: Session) -> tuple[MergeResult, list[tuple[int, int]]]:
    s.sql(SOURCE).collect()
    s.sql(SOURCE_ROWS).collect()
    target, source = s.table("LOANS"), s.table("SRC")
    result = target.merge(
        source,
        target["ID"] == source["ID"],
        [
            F.when_matched().update({"AMOUNT": source["AMOUNT"]}),
            F.when_not_matched().insert({"ID": source["ID"], "AMOUNT": source["AMOUNT"]}),
        ],
    )
    return result, [(r["ID"], r["AMOUNT"]) for r in target.sort("ID").collect()]


def test_table_merge_updates_matched_and_inserts_unmatched_rows(op: LocalDAGOperation) -> None:
    _, rows = run_task(op, _merge)
    assert rows == [(1, 11), (2, 20), (3, 30), (4, 40)]


def test_table_merge_returns_the_rows_inserted_and_updated(op: LocalDAGOperation) -> None:
    result, _ = run_task(op, _merge)
    assert result == MergeResult(rows_inserted=1, rows_updated=1, rows_deleted=0)


def test_stat_approx_quantile_estimates_each_quantile(op: LocalDAGOperation) -> None:
    quantiles = run_task(op, lambda s: s.table("LOANS").stat.approx_quantile("AMOUNT", [0.0, 0.5, 1.0]))
    assert quantiles == [10.0, 20.0, 30.0]


def test_a_saved_approx_percentile_state_is_a_named_unsupported(op: LocalDAGOperation) -> None:
    def body(s: Session) -> str:
        with pytest.raises(SnowparkSQLException) as raised:
            s.sql(
                "create table STATE as select approx_percentile_accumulate(AMOUNT) as S from LOANS"
            ).collect()
        return raised.value.message

    message = run_task(op, body)
    assert "Unsupported" in message and "APPROX_PERCENTILE(x, p)" in message


def test_an_unexpected_server_error_fails_the_task_with_a_snowflake_error_naming_the_statement(
    op: LocalDAGOperation, monkeypatch: pytest.MonkeyPatch
) -> None:
    merge = fakesnow.transforms.merge

    def broken(expression: exp.Expr) -> list[exp.Expr]:
        if isinstance(expression, exp.Merge):
            raise RuntimeError("a defect in the SQL layer")
        return merge(expression)

    # fakesnow/cursor.py ``_transform_explode`` looks ``transforms.merge`` up at call time, for every statement
    monkeypatch.setattr(fakesnow.transforms, "merge", broken)

    def task(s: Session) -> None:
        s.sql("create or replace table T (ID int)").collect()
        s.sql(
            "merge into T using (select 1 as ID) as S on T.ID = S.ID when not matched then insert (ID) values (S.ID)"
        ).collect()

    with DAG("broken") as dag:
        DAGTask("t", task)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED"
    message = run.first_error_message or ""
    assert "000603" in message and "SQL execution internal error" in message and "merge into T" in message
