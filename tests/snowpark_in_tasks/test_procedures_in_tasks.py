"""User stored procedures (docs: sql/create-procedure, sql/call): CREATE PROCEDURE … LANGUAGE PYTHON is kept in the
account, and CALL from task SQL or a task's Snowpark session runs its handler with a session of the same account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator import LocalDAGOperation
from adapters.simulator.account.home import LocalAccount

DOUBLE_IT = """create or replace procedure DOUBLE_IT(X int) returns int language python runtime_version='3.11'
packages=('snowflake-snowpark-python') handler='run' execute as caller as $$
def run(session, x):
    return x * 2 + session.sql("select count(*) from LOANS").collect()[0][0]
$$"""


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def run_graph(op: LocalDAGOperation, *tasks: tuple[str, Any]) -> dict[str, Any]:
    """Run the tasks in a chain; returns each task's return value."""
    with DAG("procs", use_func_return_value=True) as dag:
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


def test_a_sql_task_creates_a_procedure_that_a_python_task_calls_with_its_value(
    op: LocalDAGOperation,
) -> None:
    def call(session: Session) -> str:
        row = session.sql("call double_it(20)").collect()[0]
        return f"{row.as_dict()} {session.call('DOUBLE_IT', 4)}"

    values = run_graph(
        op,
        ("make", f"create or replace table LOANS (ID int); insert into LOANS values (1), (2);\n{DOUBLE_IT}"),
        ("call", call),
    )
    assert (
        values["CALL"] == "{'DOUBLE_IT': 42} 10"
    )  # one row named after the procedure; the handler read LOANS


def test_the_handler_session_is_the_calling_tasks_so_it_sets_the_tasks_return_value(
    op: LocalDAGOperation,
) -> None:
    setter = """create procedure SET_IT(V varchar) returns varchar language python runtime_version='3.11'
handler='run' as $$
from snowflake.core.task.context import TaskContext
def run(session, v):
    TaskContext(session).set_return_value("from the procedure: " + v)
    return v
$$"""
    values = run_graph(op, ("make", setter), ("caller", "call SET_IT('x')"))
    assert values["CALLER"] == "from the procedure: x"


def test_a_procedure_survives_the_account_closing(tmp_path: Path) -> None:
    from adapters.simulator.sql.session import open_session

    with LocalAccount(tmp_path / "home") as account:
        session = open_session(account)
        session.sql("create table LOANS (ID int)").collect()
        session.sql(DOUBLE_IT).collect()
        session.close()
    with LocalAccount(tmp_path / "home") as account:
        session = open_session(account)
        assert session.call("DOUBLE_IT", 3) == 6
        session.close()


def test_a_temporary_procedure_is_known_only_to_its_session(account: LocalAccount) -> None:
    from adapters.simulator.sql.session import open_session

    first, second = open_session(account), open_session(account)
    first.sql(
        "create temporary procedure ONE() returns int language python runtime_version='3.11' handler='f' "
        "as 'def f(session): return 1'"
    ).collect()
    assert first.sql("call ONE()").collect()[0][0] == 1
    with pytest.raises(SnowparkSQLException, match="Unknown user-defined procedure"):
        second.sql("call ONE()").collect()
    first.close()
    second.close()


def test_the_handlers_error_fails_the_call_naming_it(account: LocalAccount) -> None:
    from adapters.simulator.sql.session import open_session

    session = open_session(account)
    session.sql(
        "create procedure BAD() returns int language python runtime_version='3.11' handler='f' as $$\n"
        "def f(session):\n    raise ValueError('no loans')\n$$"
    ).collect()
    with pytest.raises(SnowparkSQLException, match="ValueError: no loans in function BAD"):
        session.sql("call BAD()").collect()
    session.close()


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("create procedure P() returns int language javascript as $$ return 1 $$", "written in JAVASCRIPT"),
        (
            "create function F(x int) returns table (A int) language python handler='f' as $$\nclass f: pass\n$$",
            "UDTF",
        ),
        (
            "create procedure P() returns table (A int) language python runtime_version='3.11' handler='f' as 'x'",
            "RETURNS TABLE",
        ),
    ],
)
def test_what_the_simulator_cannot_run_is_unsupported(
    account: LocalAccount, statement: str, named: str
) -> None:
    from adapters.simulator.sql.session import open_session

    session = open_session(account)
    with pytest.raises(SnowparkSQLException, match=f"Unsupported: .*{named}"):
        session.sql(statement).collect()
    session.close()


def test_a_package_not_installed_here_is_refused_by_name(account: LocalAccount) -> None:
    from adapters.simulator.sql.session import open_session

    session = open_session(account)
    with pytest.raises(SnowparkSQLException, match="package 'no-such-package' is not installed"):
        session.sql(
            "create procedure P() returns int language python runtime_version='3.11' "
            "packages=('no-such-package') handler='f' as 'def f(s): return 1'"
        ).collect()
    session.close()


def test_a_task_registers_a_python_function_as_a_procedure_and_calls_it(op: LocalDAGOperation) -> None:
    # snowflake/snowpark/stored_procedure.py ``_do_register_sp``: lists the session stage through RESULT_SCAN,
    # reads INFORMATION_SCHEMA.PACKAGES, then sends CREATE TEMPORARY PROCEDURE with a cloudpickled inline handler
    def register_and_call(session: Session) -> str:
        from snowflake.snowpark.types import IntegerType

        def add_loans(session: Session, x: int) -> int:
            return x + session.sql("select count(*) from LOANS").collect()[0][0]

        add = session.sproc.register(
            add_loans,
            name="ADD_LOANS",
            return_type=IntegerType(),
            input_types=[IntegerType()],
            packages=["snowflake-snowpark-python"],
        )
        return f"{session.call('ADD_LOANS', 40)} {add(10, session=session)}"

    values = run_graph(
        op,
        ("make", "create or replace table LOANS (ID int); insert into LOANS values (1), (2)"),
        ("register", register_and_call),
    )
    assert values["REGISTER"] == "42 12"


def test_describe_procedure_names_what_it_returns(account: LocalAccount) -> None:
    # session.call reads the second row to tell a table procedure from a scalar one (session.py
    # ``_infer_is_return_table``)
    from adapters.simulator.sql.session import open_session

    session = open_session(account)
    session.sql(DOUBLE_IT).collect()
    rows = session.sql("describe procedure DOUBLE_IT(NUMBER)").collect()
    session.close()
    assert [tuple(r) for r in rows[:3]] == [
        ("signature", "(X INT)"),
        ("returns", "INT"),
        ("language", "PYTHON"),
    ]
