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
