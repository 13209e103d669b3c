"""``TABLE(RESULT_SCAN('id'))`` inside a query (docs: functions/result_scan) reads the session's earlier result, as
Snowpark's ``session.sql("ls @stage").select('"name"')`` sends it (snowflake/snowpark/session.py
``_list_files_in_stage``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator.account.home import LocalAccount


@pytest.fixture
def session(account: LocalAccount) -> Iterator[Session]:
    from adapters.simulator.sql.session import open_session

    opened = open_session(account)
    yield opened
    opened.close()


def _query_id(session: Session, text: str) -> str:
    cursor = session.connection.cursor()
    cursor.execute(text)
    query_id = cursor.sfqid
    assert query_id is not None
    return query_id


def test_a_nested_result_scan_reads_the_earlier_result(session: Session) -> None:
    query_id = _query_id(session, "select * from values (1, 'a'), (2, 'b') as T (N, S)")
    rows = session.sql(
        f'select "S" from (select * from table(result_scan(\'{query_id}\'))) where "N" > 1'
    ).collect()
    assert [tuple(r) for r in rows] == [("b",)]


def test_a_result_scan_selecting_columns_returns_only_those(session: Session) -> None:
    # fakesnow answered any top-level SELECT … FROM TABLE(RESULT_SCAN(…)) with the whole cached result
    query_id = _query_id(session, "select 1 as A, 2 as B")
    cursor = session.connection.cursor()
    cursor.execute(f"select \"B\" from table(result_scan('{query_id}'))")
    assert (cursor.fetchall(), [c.name for c in cursor.description]) == ([(2,)], ["B"])


def test_a_stages_listing_selects_its_file_names(session: Session, tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("1")
    session.sql("create stage FILES").collect()
    session.file.put(str(tmp_path / "one.txt"), "@FILES", auto_compress=False)
    names = [r[0] for r in session.sql("ls @FILES").select('"name"').collect()]
    assert names == ["files/one.txt"]


def test_an_unknown_query_id_fails_naming_it(session: Session) -> None:
    with pytest.raises(SnowparkSQLException, match="Statement 01-no-such not found"):
        session.sql("select * from (select * from table(result_scan('01-no-such')))").collect()


# LAST_QUERY_ID (docs: https://docs.snowflake.com/en/sql-reference/functions/last_query_id)


def test_a_task_reads_its_previous_statements_result_through_last_query_id() -> None:
    from snowflake.core.task.dagv1 import DAG, DAGTask

    from adapters.simulator import LocalDAGOperation

    def task(session: Session) -> str:
        session.sql("select 7 as N, 'seven' as S").collect()
        row = session.sql("select * from table(result_scan(last_query_id()))").collect()[0]
        return f"{row['N']} {row['S']}"

    with LocalDAGOperation() as op:
        with DAG("scans", use_func_return_value=True) as dag:
            DAGTask("scan", task)
        op.deploy(dag)
        run = op.run(dag)
        assert run.state == "SUCCEEDED", run.first_error_message
        assert {r.name.split("$")[-1]: r.return_value for r in op.task_history(dag)}["SCAN"] == "7 seven"


def test_last_query_id_counts_back_from_the_latest_statement_and_forward_from_the_first(
    session: Session,
) -> None:
    first = _query_id(session, "select 1 as N")
    second = _query_id(session, "select 2 as N")
    _query_id(session, "select 3 as N")
    row = session.sql("select last_query_id(-2), last_query_id(1), last_query_id(100)").collect()[0]
    assert tuple(row) == (second, first, None)
    assert session.sql("select N from table(result_scan(last_query_id(-2)))").collect()[0][0] == 3


def test_a_described_result_scan_of_last_query_id_has_the_scanned_columns(session: Session) -> None:
    # Snowpark's DataFrame.schema sends a describe-only request; it must neither count as a statement nor lose
    # the columns (sqlglot wrote it back as DESCRIBE TABLE <query>, which DuckDB describes as nothing)
    session.sql("select 1 as A, 'x' as B").collect()
    scanned = session.sql("select * from table(result_scan(last_query_id()))")
    assert [f.name for f in scanned.schema.fields] == ["A", "B"]
    assert tuple(scanned.collect()[0]) == (1, "x")


def test_last_query_id_of_a_non_integer_fails_naming_what_it_takes(session: Session) -> None:
    with pytest.raises(SnowparkSQLException, match="LAST_QUERY_ID takes one integer"):
        session.sql("select last_query_id('x')").collect()
