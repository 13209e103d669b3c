"""A task body gets a real snowflake.snowpark.Session: Snowpark's DataFrame API runs unchanged on the local account.

Each test runs one task through LocalDAGOperation and checks what the body saw or wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import snowflake.snowpark.functions as F
from snowflake.core.task.context import TaskContext
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session, Window
from snowflake.snowpark.context import get_active_session

from adapters.simulator import LocalDAGOperation

LOANS = "create or replace table LOANS (ID int, GRP varchar, AMOUNT int)"
FILL = "insert into LOANS values (1, 'a', 10), (2, 'b', 20), (3, 'b', 30)"


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def run_task(op: LocalDAGOperation, body: Callable[[Session], Any]) -> Any:
    """Run ``body`` as the only task of a graph over a fresh LOANS table; returns what it returned."""
    seen: list[Any] = []

    def task(session: Session) -> None:
        session.sql(LOANS).collect()
        session.sql(FILL).collect()
        seen.append(body(session))

    with DAG("frames") as dag:
        DAGTask("t", task)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    return seen[0]


def test_the_task_session_is_a_snowpark_session_in_the_graphs_schema(op: LocalDAGOperation) -> None:
    seen = run_task(op, lambda s: (type(s), s.get_current_database(), s.get_current_schema()))
    assert seen == (Session, '"SIMULATOR"', '"PUBLIC"')


def test_filter_group_by_agg_collects_rows(op: LocalDAGOperation) -> None:
    rows = run_task(
        op,
        lambda s: (
            s.table("LOANS")
            .filter(F.col("AMOUNT") > 10)
            .group_by("GRP")
            .agg(F.sum("AMOUNT").alias("TOTAL"))
            .collect()
        ),
    )
    assert [(r.GRP, r.TOTAL) for r in rows] == [("b", 50)]


def test_join_and_window_function(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[int, int]]:
        t = s.table("LOANS")
        ranked = t.select("ID", F.row_number().over(Window.partition_by("GRP").order_by("ID")).alias("RN"))
        joined = t.join(ranked, t["ID"] == ranked["ID"]).select(t["ID"].alias("ID"), "RN").sort("ID")
        return [(r.ID, r.RN) for r in joined.collect()]

    assert run_task(op, body) == [(1, 1), (2, 1), (3, 2)]


def test_to_pandas_count_and_statement_params(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[list[int], int, int]:
        frame = s.table("LOANS").sort("ID").to_pandas()
        rows = s.table("LOANS").collect(statement_params={"project": "mortgage"})  # as snowflake-ml passes
        return list(frame["ID"]), s.table("LOANS").count(), len(rows)

    assert run_task(op, body) == ([1, 2, 3], 3, 3)


@pytest.mark.parametrize(("mode", "rows"), [("append", 6), ("overwrite", 3)])
def test_save_as_table_modes(op: LocalDAGOperation, mode: str, rows: int) -> None:
    def body(s: Session) -> int:
        s.table("LOANS").write.save_as_table("COPY", mode="overwrite")
        s.table("LOANS").write.save_as_table("COPY", mode=mode)
        return s.table("COPY").count()

    assert run_task(op, body) == rows


def test_use_schema_moves_unqualified_names(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[str | None, int]:
        s.sql("create schema if not exists OTHER").collect()
        s.use_schema("OTHER")
        s.sql("create or replace table T (X int)").collect()
        return s.get_current_schema(), s.table("SIMULATOR.OTHER.T").count()

    assert run_task(op, body) == ('"OTHER"', 0)


def test_get_active_session_and_get_or_create_return_the_task_session(op: LocalDAGOperation) -> None:
    seen = run_task(op, lambda s: (get_active_session() is s, Session.builder.getOrCreate() is s))
    assert seen == (True, True)


def test_task_context_sets_the_return_value_the_next_task_reads(op: LocalDAGOperation) -> None:
    seen: list[Any] = []
    with DAG("values") as dag:
        first = DAGTask("first", lambda s: TaskContext(s).set_return_value("42"))
        second = DAGTask(
            "second",
            lambda s: seen.append(
                s.sql("select system$get_predecessor_return_value('VALUES$FIRST') as v").collect()[0].V
            ),
        )
        first >> second
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    assert seen == ["42"]


def test_a_statement_the_simulator_cannot_honour_fails_the_task_with_unsupported(
    op: LocalDAGOperation,
) -> None:
    with DAG("notebook") as dag:
        DAGTask("nb", "EXECUTE NOTEBOOK SIMULATOR.PUBLIC.TRAIN_NB()")
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED"
    assert "Unsupported: 'EXECUTE NOTEBOOK SIMULATOR.PUBLIC.TRAIN_NB()'" in run.first_error_message
    assert "Snowflake Notebook" in run.first_error_message
