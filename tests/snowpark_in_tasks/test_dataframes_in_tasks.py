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
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator import LocalDAGOperation

LOANS = "create or replace table LOANS (ID int, GRP varchar, AMOUNT int)"
FILL = "insert into LOANS values (1, 'a', 10), (2, 'b', 20), (3, 'b', 30)"


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def run_task(op: LocalDAGOperation, body: Callable[[Session], Any], graph: str = "frames") -> Any:
    """Run ``body`` as the only task of graph ``graph`` over a fresh LOANS table; returns what it returned."""
    seen: list[Any] = []

    def task(session: Session) -> None:
        session.sql(LOANS).collect()
        session.sql(FILL).collect()
        seen.append(body(session))

    with DAG(graph) as dag:
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


def test_with_column_union_distinct_and_limit(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[list[tuple[int, int]], list[str], int]:
        t = s.table("LOANS")
        doubled = t.with_column("DOUBLE", F.col("AMOUNT") * 2).sort(F.col("ID").desc()).limit(2)
        groups = t.select("GRP").union(t.select("GRP")).distinct().sort("GRP")  # UNION removes duplicates
        every = t.select("ID").union_all(t.select("ID")).count()
        return [(r.ID, r.DOUBLE) for r in doubled.collect()], [r.GRP for r in groups.collect()], every

    assert run_task(op, body) == ([(3, 60), (2, 40)], ["a", "b"], 6)


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


# fakesnow gaps the statement hooks close (src/adapters/simulator/sql/hooks.py names the fakesnow code of each)


def test_create_dataframe_from_lists_with_a_schema(op: LocalDAGOperation) -> None:
    # Snowpark sends SELECT $1 AS "ID", $2 AS "GRP" FROM VALUES (…), described first (describeOnly)
    rows = run_task(op, lambda s: s.create_dataframe([[1, "a"], [2, "b"]], schema=["ID", "GRP"]).collect())
    assert [(r.ID, r.GRP) for r in rows] == [(1, "a"), (2, "b")]


def test_a_created_dataframe_saves_as_a_table(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[int, str]]:
        s.create_dataframe([[7, "z"]], schema=["ID", "GRP"]).write.save_as_table("MADE", mode="overwrite")
        return [(r.ID, r.GRP) for r in s.table("MADE").collect()]

    assert run_task(op, body) == [(7, "z")]


def test_positional_columns_of_an_aliased_values_clause_use_its_column_names(op: LocalDAGOperation) -> None:
    rows = run_task(op, lambda s: s.sql("select $2 as b, $1 as a from values (1, 'x') as v (n, t)").collect())
    assert [(r.A, r.B) for r in rows] == [(1, "x")]


def test_query_tag_is_kept_and_appended_to(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[str | None, str | None, str]:
        s.query_tag = "mortgage"
        first = s.query_tag
        s.append_query_tag("train")  # reads the tag back with SHOW PARAMETERS LIKE 'QUERY_TAG'
        shown = s.sql("show parameters like 'QUERY_TAG' in session").collect()[0]["value"]
        return first, s.query_tag, shown

    assert run_task(op, body) == ("mortgage", "mortgage,train", "mortgage,train")


def test_unsetting_the_query_tag_empties_it(op: LocalDAGOperation) -> None:
    def body(s: Session) -> str:
        s.sql("alter session set query_tag = 'x'").collect()
        s.sql("alter session unset query_tag").collect()
        return str(s.sql("show parameters like 'QUERY_TAG'").collect()[0]["value"])

    assert run_task(op, body) == ""


def test_ctas_with_a_column_list_names_the_query_columns(op: LocalDAGOperation) -> None:
    # docs: sql/create-table, CREATE TABLE … ( <col_name> [ , … ] ) AS SELECT
    def body(s: Session) -> list[Any]:
        s.sql("create or replace table RENAMED (LOAN, BUCKET) as select ID, GRP from LOANS").collect()
        return [tuple(r) for r in s.table("RENAMED").sort("LOAN").collect()] + s.table("RENAMED").columns

    assert run_task(op, body) == [(1, "a"), (2, "b"), (3, "b"), "LOAN", "BUCKET"]


def test_ctas_with_a_column_list_of_the_wrong_length_is_refused(op: LocalDAGOperation) -> None:
    def body(s: Session) -> str:
        try:
            s.sql("create table BAD (A, B) as select ID from LOANS").collect()
        except SnowparkSQLException as exc:
            return str(exc)
        return "created"

    assert "Invalid column definition list" in run_task(op, body)


@pytest.mark.parametrize(
    "statement",
    [
        "execute immediate $$ select count(*) as n from LOANS; $$",
        "EXECUTE IMMEDIATE 'select count(*) as n from LOANS'",
    ],
)
def test_execute_immediate_runs_its_statement(op: LocalDAGOperation, statement: str) -> None:
    # docs: sql/execute-immediate
    assert run_task(op, lambda s: s.sql(statement).collect()[0].N) == 3


def test_identifier_of_a_quoted_qualified_name_names_that_table(op: LocalDAGOperation) -> None:
    # the form write_pandas gives its temporary stages (snowflake/connector/pandas_tools.py _create_temp_stage)
    def body(s: Session) -> int:
        s.sql("create table identifier(?) (X int)", params=['"SIMULATOR"."PUBLIC"."NAMED"']).collect()
        return s.table("SIMULATOR.PUBLIC.NAMED").count()

    assert run_task(op, body) == 0


def test_file_put_uploads_onto_a_stage(op: LocalDAGOperation, tmp_path: Any) -> None:
    source = tmp_path / "loans.csv"
    source.write_text("1,a\n")

    def body(s: Session) -> tuple[str, list[str]]:
        s.sql("create or replace stage LANDING").collect()
        put = s.file.put(str(source), "@LANDING/in", auto_compress=False)
        return put[0].status, [r.name for r in s.sql("list @LANDING").collect()]

    assert run_task(op, body) == ("UPLOADED", ["landing/in/loans.csv"])
