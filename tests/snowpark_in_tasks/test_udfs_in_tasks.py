"""Python UDFs (docs: https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-introduction, sql/create-function):
``session.udf.register`` / ``@udf`` and ``CREATE FUNCTION … LANGUAGE PYTHON`` in task sessions, called from SQL and from
DataFrames."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException
from snowflake.snowpark.functions import call_udf, col
from snowflake.snowpark.types import IntegerType, PandasSeriesType, StringType

from adapters.simulator import LocalDAGOperation
from adapters.simulator.account.home import LocalAccount

TAX = """create or replace function ADD_TAX(AMOUNT number(10, 2)) returns number(10, 2) language python
runtime_version='3.11' handler='tax' as $$
from decimal import Decimal
def tax(amount):
    return amount * Decimal("1.20")
$$"""


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


@pytest.fixture
def session(account: LocalAccount) -> Iterator[Session]:
    from adapters.simulator.sql.session import open_session

    opened = open_session(account)
    yield opened
    opened.close()


def run_graph(op: LocalDAGOperation, *tasks: tuple[str, Any]) -> dict[str, Any]:
    """Run the tasks in a chain; returns each task's return value."""
    with DAG("udfs", use_func_return_value=True) as dag:
        previous = None
        for name, definition in tasks:
            task = DAGTask(name, definition)
            if previous is not None:
                previous >> task
            previous = task
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    return {r.name.split("$")[-1]: r.return_value for r in op.task_history(dag)}


def test_a_task_registers_a_udf_and_a_dataframe_selects_through_it(op: LocalDAGOperation) -> None:
    def task(session: Session) -> str:
        plus_one = session.udf.register(
            lambda x: x + 1, return_type=IntegerType(), input_types=[IntegerType()], name="PLUS_ONE"
        )
        df = session.create_dataframe([[1], [2]], schema=["A"])
        return str([r[0] for r in df.select(plus_one(col("A")).alias("B")).sort("B").collect()])

    assert run_graph(op, ("register", task))["REGISTER"] == "[2, 3]"


def test_a_sql_task_creates_a_udf_that_a_python_task_calls_with_call_udf(op: LocalDAGOperation) -> None:
    def task(session: Session) -> str:
        df = session.create_dataframe([[10.0]], schema=["AMOUNT"])
        return str(df.select(call_udf("ADD_TAX", col("AMOUNT"))).collect()[0][0])

    # NUMBER(10, 2) reaches the handler as a Decimal and comes back as one (udf-python-designing: type mappings)
    assert run_graph(op, ("make", TAX), ("call", task))["CALL"] == "12.00"


def test_a_udf_is_called_by_its_qualified_name_in_task_sql(op: LocalDAGOperation) -> None:
    def read(session: Session) -> str:
        return str(session.table("TAXED").collect()[0][0])

    values = run_graph(
        op,
        ("make", f"create table PRICES (P number(10, 2)); insert into PRICES values (5);\n{TAX}"),
        ("use", "create table TAXED as select SIMULATOR.PUBLIC.ADD_TAX(P) as T from PRICES"),
        ("read", read),
    )
    assert values["READ"] == "6.00"


def test_null_arguments_reach_the_handler_unless_the_udf_is_strict(session: Session) -> None:
    # Snowflake's default is CALLED ON NULL INPUT; STRICT (RETURNS NULL ON NULL INPUT) skips the handler
    body = "handler='f' as $$\ndef f(x):\n    return 'none' if x is None else str(x)\n$$"
    session.sql(
        f"create function CALLED(X int) returns varchar language python runtime_version='3.11' {body}"
    ).collect()
    session.sql(
        f"create function SKIPPED(X int) returns varchar language python strict runtime_version='3.11' {body}"
    ).collect()
    assert tuple(session.sql("select CALLED(null), SKIPPED(null), SKIPPED(7)").collect()[0]) == (
        "none",
        None,
        "7",
    )


def test_the_handlers_error_fails_the_statement_naming_the_function(session: Session) -> None:
    def broken(x: int) -> int:
        raise ValueError("no loans")

    session.udf.register(broken, name="BROKEN")
    with pytest.raises(SnowparkSQLException, match=r"(?s)100357.*ValueError: no loans in function BROKEN"):
        session.sql("select BROKEN(1)").collect()


def test_a_permanent_udf_survives_the_account_closing(tmp_path: Path) -> None:
    from adapters.simulator.sql.session import open_session

    with LocalAccount(tmp_path / "home") as account:
        session = open_session(account)
        session.sql(TAX).collect()
        session.close()
    with LocalAccount(tmp_path / "home") as account:
        session = open_session(account)
        assert str(session.sql("select ADD_TAX(1)").collect()[0][0]) == "1.20"
        session.close()


def test_a_temporary_udf_is_known_only_to_its_session(account: LocalAccount) -> None:
    from adapters.simulator.sql.session import open_session

    first, second = open_session(account), open_session(account)
    first.udf.register(lambda: 1, return_type=IntegerType(), input_types=[], name="ONE")
    assert first.sql("select ONE()").collect()[0][0] == 1
    with pytest.raises(SnowparkSQLException, match=r"(?i)function with name one does not exist"):
        second.sql("select ONE()").collect()
    first.close()
    second.close()


def test_a_vectorized_udf_gets_a_batch_as_pandas(session: Session) -> None:
    def shout(names: pd.Series) -> pd.Series:
        return names.str.upper() + f"/{len(names)}"

    session.udf.register(
        shout,
        return_type=PandasSeriesType(StringType()),
        input_types=[PandasSeriesType(StringType())],
        name="SHOUT",
    )
    df = session.create_dataframe([["a"], ["b"]], schema=["N"])
    assert sorted(r[0] for r in df.select(call_udf("SHOUT", col("N"))).collect()) == ["A/2", "B/2"]


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (
            "create function T(x int) returns table (A int) language python runtime_version='3.11' handler='T' "
            "as $$\nclass T: pass\n$$",
            "UDTF",
        ),
        (
            "create aggregate function S(x int) returns int language python runtime_version='3.11' handler='S' "
            "as $$\nclass S: pass\n$$",
            "UDAF",
        ),
        (
            "create function J(x int) returns int language java handler='J.run' as 'class J {}'",
            "written in JAVA",
        ),
    ],
)
def test_what_the_simulator_cannot_run_is_unsupported(session: Session, statement: str, named: str) -> None:
    with pytest.raises(SnowparkSQLException, match=f"Unsupported: .*{named}"):
        session.sql(statement).collect()
