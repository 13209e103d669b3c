"""Snowflake's Task Graph SQL from inside tasks, through their real Snowpark session, on the engine's graphs.

Docs: https://docs.snowflake.com/en/sql-reference/functions/task_history,
https://docs.snowflake.com/en/sql-reference/functions/complete_task_graphs,
https://docs.snowflake.com/en/sql-reference/functions/current_task_graphs,
https://docs.snowflake.com/en/sql-reference/sql/execute-task, https://docs.snowflake.com/en/sql-reference/sql/alter-task,
https://docs.snowflake.com/en/sql-reference/sql/show-tasks,
https://docs.snowflake.com/en/sql-reference/functions/system_task_dependents_enable,
https://docs.snowflake.com/en/sql-reference/stored-procedures/system_send_email.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation
from domain.refs import Notification


class Mailbox:
    """A notifier that records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Notification]] = []

    def send(self, integration: str, message: Notification) -> None:
        self.sent.append((integration, message))


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def op(mailbox: Mailbox) -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation(notifier=mailbox) as operation:
        yield operation


def in_task(op: LocalDAGOperation, body: Callable[[Any], Any], name: str = "probe") -> Any:
    """Run ``body(session)`` as the only task of graph ``name``; returns what it returned (or raises its error)."""
    seen: list[Any] = []
    with DAG(name) as dag:
        DAGTask("t", lambda session: seen.append(body(session)))
    op.deploy(dag)
    run = op.run(dag)
    if run.state != "SUCCEEDED":
        raise AssertionError(run.first_error_message)
    return seen[0]


def failing_graph(op: LocalDAGOperation) -> DAG:
    def load(session: Any) -> None:
        raise RuntimeError("source file missing")

    with DAG("nightly") as dag:
        DAGTask("load", load) >> DAGTask("publish", "select 1")
    op.deploy(dag)
    op.run(dag)
    return dag


def test_task_history_rows_are_a_table_for_where_and_order_by(op: LocalDAGOperation) -> None:
    failing_graph(op)
    rows = in_task(
        op,
        lambda s: [
            tuple(r)
            for r in s.sql(
                "select NAME, STATE, ERROR_CODE from table(information_schema.task_history(error_only => true)) h "
                "where h.NAME like 'NIGHTLY%' order by NAME"
            ).collect()
        ],
    )
    assert rows == [("NIGHTLY$LOAD", "FAILED", 100132)]


def test_task_history_takes_expressions_as_arguments_and_db_qualified_names(op: LocalDAGOperation) -> None:
    failing_graph(op)
    rows = in_task(
        op,
        lambda s: s.sql(
            "select NAME from table(SIMULATOR.INFORMATION_SCHEMA.TASK_HISTORY("
            "scheduled_time_range_start => dateadd('hour', -1, current_timestamp()), task_name => 'load', "
            "result_limit => 5))"
        ).collect(),
    )
    assert [r["NAME"] for r in rows] == ["NIGHTLY$LOAD"]


def test_a_snowpark_dataframe_filters_the_task_history_table_function(op: LocalDAGOperation) -> None:
    from snowflake.snowpark.functions import col

    failing_graph(op)
    rows = in_task(
        op,
        lambda s: (
            s.sql("select * from table(information_schema.task_history())")
            .filter(col("STATE") == "SUCCEEDED")
            .select("NAME")
            .collect()
        ),
    )
    # the roots' rows (this probe's too); NIGHTLY$LOAD failed and NIGHTLY$PUBLISH did not run
    assert sorted(r["NAME"] for r in rows) == ["NIGHTLY", "PROBE"]


def test_a_result_limit_outside_1_to_10000_fails_the_statement_naming_it(op: LocalDAGOperation) -> None:
    with pytest.raises(AssertionError, match=r"RESULT_LIMIT => 0: must be 1\.\.10000"):
        in_task(
            op,
            lambda s: s.sql(
                "select * from table(information_schema.task_history(result_limit => 0))"
            ).collect(),
        )


def test_complete_task_graphs_lists_the_failed_run_and_current_task_graphs_the_running_one(
    op: LocalDAGOperation,
) -> None:
    failing_graph(op)
    complete, current = in_task(
        op,
        lambda s: (
            s.sql(
                "select ROOT_TASK_NAME, STATE, FIRST_ERROR_TASK_NAME from "
                "table(information_schema.complete_task_graphs(root_task_name => 'nightly', error_only => true))"
            ).collect(),
            s.sql(
                "select ROOT_TASK_NAME, STATE from table(information_schema.current_task_graphs())"
            ).collect(),
        ),
    )
    assert [tuple(r) for r in complete] == [("NIGHTLY", "FAILED", "NIGHTLY$LOAD")]
    assert [tuple(r) for r in current] == [("PROBE", "EXECUTING")]


def test_execute_task_using_config_starts_the_graph_with_that_config(op: LocalDAGOperation) -> None:
    seen: list[Any] = []
    with DAG("target", config={"mode": "delta"}) as target:
        DAGTask(
            "t",
            lambda s: seen.append(
                s.sql("select SYSTEM$GET_TASK_GRAPH_CONFIG('mode') as M").collect()[0]["M"]
            ),
        )
    op.deploy(target)
    in_task(op, lambda s: s.sql("""execute task TARGET using config = '{"mode": "full"}'""").collect())
    op.wait_all()
    assert seen == ["full"]
    assert [str(r.scheduled_from) for r in op.graph_runs("TARGET")] == ["EXECUTE TASK"]


def test_alter_task_suspends_and_task_dependents_enable_resumes_the_graph(op: LocalDAGOperation) -> None:
    failing_graph(op)
    states = in_task(
        op,
        lambda s: [
            s.sql("alter task SIMULATOR.PUBLIC.NIGHTLY suspend").collect(),
            s.sql("show tasks like 'NIGHTLY' root only").collect()[0]["state"],
            s.sql("select SYSTEM$TASK_DEPENDENTS_ENABLE('nightly$load')").collect(),
            s.sql("show tasks like 'NIGHTLY' root only").collect()[0]["state"],
        ][1::2],
    )
    assert states == ["suspended", "started"]


def test_show_tasks_lists_a_graphs_tasks_with_snowflakes_columns(op: LocalDAGOperation) -> None:
    failing_graph(op)
    rows = in_task(op, lambda s: s.sql("show tasks like 'nightly%' in schema SIMULATOR.PUBLIC").collect())
    by_name = {r["name"]: r.as_dict() for r in rows}
    assert sorted(by_name) == ["NIGHTLY", "NIGHTLY$LOAD", "NIGHTLY$PUBLISH"]
    assert by_name["NIGHTLY$PUBLISH"]["predecessors"] == '["SIMULATOR.PUBLIC.NIGHTLY$LOAD"]'
    assert by_name["NIGHTLY$PUBLISH"]["definition"] == "select 1"
    assert list(by_name["NIGHTLY"])[:5] == ["created_on", "name", "id", "database_name", "schema_name"]
    assert in_task(op, lambda s: s.sql("show tasks in schema OTHER.PUBLIC").collect(), name="other") == []


def test_system_send_email_reaches_the_notifier(op: LocalDAGOperation, mailbox: Mailbox) -> None:
    value = in_task(
        op,
        lambda s: s.sql(
            "call SYSTEM$SEND_EMAIL('my_email_int', 'a@example.com, b@example.com', 'Run failed', '<b>load</b>', "
            "'text/html')"
        ).collect()[0][0],
    )
    assert mailbox.sent == [("my_email_int", Notification("Run failed", "<b>load</b>", "text/html"))]
    assert value is True


def test_task_graph_sql_outside_a_task_fails_naming_why(op: LocalDAGOperation) -> None:
    from snowflake.snowpark.exceptions import SnowparkSQLException

    from adapters.simulator.sql.session import open_session

    session = open_session(op.account)
    try:
        with pytest.raises(SnowparkSQLException, match="available only inside a running task"):
            session.sql("execute task NIGHTLY").collect()
    finally:
        session.close()


def test_a_task_reads_its_predecessors_row_of_the_same_run_in_task_history(op: LocalDAGOperation) -> None:
    seen: list[Any] = []

    def check(session: Any) -> None:
        seen.extend(
            tuple(r)
            for r in session.sql(
                "select NAME, STATE from table(information_schema.task_history(task_name => 'extract'))"
            ).collect()
        )

    with DAG("chain") as dag:
        DAGTask("extract", "select 1") >> DAGTask("check", check)
    op.deploy(dag)

    assert op.run(dag).state == "SUCCEEDED"
    assert seen == [("CHAIN$EXTRACT", "SUCCEEDED")]
