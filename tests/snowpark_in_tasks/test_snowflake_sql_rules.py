"""Snowflake's SQL rules as task SQL sees them on the simulator, one rule per test, each citing its docs page.

Every statement goes through a real Snowpark session in a running task (the account's SQL server, fakesnow and our
statement rules), so what is checked is what a user's task gets.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator import LocalDAGOperation

IDENTIFIERS = "https://docs.snowflake.com/en/sql-reference/identifiers-syntax"
NAME_RESOLUTION = "https://docs.snowflake.com/en/sql-reference/name-resolution"


@pytest.fixture(scope="module")
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def in_task(op: LocalDAGOperation, *statements: str) -> list[dict[str, Any]]:
    """Run ``statements`` in one task's session; the rows of the last one, as dicts keyed as Snowflake names them."""
    seen: list[list[dict[str, Any]]] = []

    def task(session: Session) -> None:
        rows: list[Any] = []
        for statement in statements:
            rows = session.sql(statement).collect()
        seen.append([r.as_dict() for r in rows])

    with DAG("rules") as dag:
        DAGTask("t", task)
    op.deploy(dag, mode="or_replace")
    run = op.run(dag)
    if run.state != "SUCCEEDED":
        raise SnowparkSQLException(run.first_error_message or "the task failed")
    return seen[0]


def test_an_unquoted_name_resolves_upper_case(op: LocalDAGOperation) -> None:
    # IDENTIFIERS: "unquoted object identifiers are stored and resolved as uppercase characters"
    rows = in_task(op, "create or replace table plain_t (a int)", "insert into Plain_T values (1)",
                   "select table_name from information_schema.tables where table_name ilike 'plain_t'")  # fmt: skip
    assert rows == [{"TABLE_NAME": "PLAIN_T"}]


def test_a_quoted_name_keeps_its_case(op: LocalDAGOperation) -> None:
    # IDENTIFIERS: "delimited identifiers ... are case-sensitive"
    rows = in_task(op, 'create or replace table "Mixed_T" (a int)',
                   "select table_name from information_schema.tables where table_name ilike 'mixed_t'")  # fmt: skip
    assert rows == [{"TABLE_NAME": "Mixed_T"}]


def test_a_quoted_alias_keeps_its_case_in_the_result_and_an_unquoted_one_is_upper_case(
    op: LocalDAGOperation,
) -> None:
    # IDENTIFIERS: the same rules hold for column aliases
    assert in_task(op, 'select 1 as "mixedCase", 2 as plain') == [{"mixedCase": 1, "PLAIN": 2}]


def test_a_fully_qualified_name_reaches_another_database_and_schema(op: LocalDAGOperation) -> None:
    # NAME_RESOLUTION: db.schema.object names the object wherever the session is
    rows = in_task(
        op,
        "create database if not exists SALES",
        "create schema if not exists SALES.RAW",
        "create or replace table SALES.RAW.ORDERS (REGION varchar, AMOUNT int)",
        "insert into SALES.RAW.ORDERS values ('EU', 10), ('US', 5)",
        "select sum(AMOUNT) as TOTAL from SALES.RAW.ORDERS",
    )
    assert rows == [{"TOTAL": 15}]


def test_use_schema_changes_where_unqualified_names_resolve(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/use-schema
    rows = in_task(
        op,
        "create database if not exists SALES",
        "create schema if not exists SALES.MART",
        "use schema SALES.MART",
        "create or replace table TOTALS (N int)",
        "select table_catalog, table_schema from SALES.information_schema.tables where table_name = 'TOTALS'",
    )
    assert rows == [{"TABLE_CATALOG": "SALES", "TABLE_SCHEMA": "MART"}]


def test_information_schema_lists_schemata_and_columns(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/info-schema/columns
    rows = in_task(
        op,
        "create database if not exists SALES",
        "create schema if not exists SALES.RAW",
        "create or replace table SALES.RAW.ITEMS (SKU varchar, QTY int)",
        "select column_name, data_type from SALES.information_schema.columns "
        "where table_schema = 'RAW' and table_name = 'ITEMS' order by ordinal_position",
    )
    assert rows == [
        {"COLUMN_NAME": "SKU", "DATA_TYPE": "TEXT"},
        {"COLUMN_NAME": "QTY", "DATA_TYPE": "NUMBER"},
    ]
    schemata = in_task(
        op, "select schema_name from SALES.information_schema.schemata where schema_name = 'RAW'"
    )
    assert schemata == [{"SCHEMA_NAME": "RAW"}]


def test_show_tables_names_the_schemas_tables(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/show-tables
    rows = in_task(
        op,
        "create database if not exists SALES",
        "create schema if not exists SALES.SHOWN",
        "create or replace table SALES.SHOWN.A (X int)",
        "show tables in schema SALES.SHOWN",
    )
    assert [(r["name"], r["database_name"], r["schema_name"]) for r in rows] == [("A", "SALES", "SHOWN")]


def test_values_columns_are_named_column1_column2(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/constructs/values
    assert in_task(op, "select * from values (1, 'a'), (2, 'b')") == [
        {"COLUMN1": 1, "COLUMN2": "a"},
        {"COLUMN1": 2, "COLUMN2": "b"},
    ]


def test_dateadd_on_a_date_returns_a_date(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/functions/dateadd: "If date_or_time_expr is a date ... DATE"
    assert in_task(op, "select dateadd(day, 1, '2024-02-28'::date) as D") == [{"D": dt.date(2024, 2, 29)}]


def test_merge_updates_with_a_qualified_set_and_inserts_the_rest(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/merge
    rows = in_task(
        op,
        "create or replace table TARGET (ID int, V varchar)",
        "insert into TARGET values (1, 'old')",
        "merge into TARGET t using (select * from values (1, 'new'), (2, 'added')) s (ID, V) on t.ID = s.ID "
        "when matched then update set t.V = s.V when not matched then insert (ID, V) values (s.ID, s.V)",
        "select ID, V from TARGET order by ID",
    )
    assert rows == [{"ID": 1, "V": "new"}, {"ID": 2, "V": "added"}]


def test_semi_structured_values_are_read_by_path(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/user-guide/querying-semistructured
    rows = in_task(op, """select parse_json('{"a": {"b": [1, 2, 3]}}'):a.b[1]::int as B,
                          array_size(parse_json('[1, 2, 3]')) as N""")  # fmt: skip
    assert rows == [{"B": 2, "N": 3}]


def test_object_construct_builds_an_object(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/functions/object_construct
    (row,) = in_task(op, "select object_construct('k', 1, 'm', 'x') as O")
    assert json.loads(row["O"]) == {"k": 1, "m": "x"}


def test_a_quoted_name_must_be_matched_exactly(op: LocalDAGOperation) -> None:
    # IDENTIFIERS: a delimited identifier "is case-sensitive"; unquoted MIXED_Q resolves to MIXED_Q, not "Mixed_Q"
    in_task(op, 'create or replace table "Mixed_Q" (a int)')
    assert in_task(op, 'select count(*) as N from "Mixed_Q"') == [{"N": 0}]
    with pytest.raises(SnowparkSQLException, match="does not exist or not authorized"):
        in_task(op, "select count(*) as N from Mixed_Q")


def test_show_schemas_names_the_databases_schemas(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/show-schemas
    rows = in_task(op, "create database if not exists SALES", "create schema if not exists SALES.LISTED",
                   "show schemas in database SALES")  # fmt: skip
    assert "LISTED" in {r["name"] for r in rows}


def test_use_database_and_use_warehouse_set_the_sessions_context(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/use-database, …/use-warehouse
    seen: list[tuple[str | None, str | None]] = []

    def task(session: Session) -> None:
        session.sql("create database if not exists SALES").collect()
        session.use_database("SALES")
        session.use_warehouse("COMPUTE_WH")
        seen.append((session.get_current_database(), session.get_current_warehouse()))

    with DAG("context") as dag:
        DAGTask("t", task)
    op.deploy(dag, mode="or_replace")
    run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    assert seen == [('"SALES"', '"COMPUTE_WH"')]
