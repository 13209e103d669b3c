"""Public-style task graphs, each shaped after a published source (cited per test), run on the simulator with
the outcome Snowflake documents. Our own code: the shapes are the sources', the bodies are written here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from snowflake.core.task.context import TaskContext
from snowflake.core.task.dagv1 import DAG, DAGTask, DAGTaskBranch
from snowflake.ml.jobs import remote

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.history_sql import TASK_HISTORY_COLUMNS, task_history
from domain.schedule import utc_now


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def states(op: LocalDAGOperation, dag: DAG, run_id: int) -> dict[str, str]:
    return {name: str(state) for name, state in op.task_states(dag, run_id).items()}


def test_the_docs_diamond_of_sql_tasks_over_db_schema_tables(op: LocalDAGOperation) -> None:
    # Shape: https://docs.snowflake.com/en/user-guide/tasks-graphs ("Create a task graph": task_root, task_a
    # and task_b after it in parallel, task_c after both; a finalizer) — here over SALES.RAW / SALES.MART.
    with DAG("daily_sales", schedule=timedelta(minutes=1)) as dag:
        setup = DAGTask(
            "task_a",
            "create database if not exists SALES; create schema if not exists SALES.RAW; "
            "create or replace table SALES.RAW.ORDERS as select * from (values (1, 'EU', 10), (2, 'US', 5)) "
            "as t(ID, REGION, AMOUNT)",
        )
        regions = DAGTask(
            "task_b",
            "create database if not exists SALES; create schema if not exists SALES.MART; "
            "create or replace table SALES.MART.REGIONS(REGION varchar)",
        )
        totals = DAGTask(
            "task_c",
            "create or replace table SALES.MART.TOTALS as select REGION, sum(AMOUNT) as TOTAL from SALES.RAW.ORDERS "
            "group by REGION",
        )
        totals.add_predecessors([setup, regions])
        DAGTask("cleanup", "select count(*) from SALES.MART.TOTALS", is_finalizer=True)
    op.deploy(dag)
    run = op.run(dag)
    with op.account.cursor() as cur:
        totals_rows = sorted(cur.execute("select REGION, TOTAL from SALES.MART.TOTALS").fetchall())

    assert run.state == "SUCCEEDED", run.first_error_message
    assert states(op, dag, run.run_id) == dict.fromkeys(
        ["task_a", "task_b", "task_c", "cleanup"], "SUCCEEDED"
    )
    assert totals_rows == [("EU", 10), ("US", 5)]


def choose(session: Any) -> str:
    mode = TaskContext(session).get_task_graph_config_property("mode")
    return "full_refresh" if mode == "full" else "incremental"


def test_the_python_api_branch_runs_only_the_returned_successor(op: LocalDAGOperation) -> None:
    # Shape: https://docs.snowflake.com/en/developer-guide/snowflake-python-api/snowflake-python-managing-tasks
    # (DAGTaskBranch returning the name of the task to run; the other successor is skipped) and dagv1's
    # DAGTaskBranch docstring (snowflake/core/task/dagv1.py).
    with DAG("refresh", config={"mode": "full"}, use_func_return_value=True) as dag:
        branch = DAGTaskBranch("pick", definition=choose)
        branch >> [DAGTask("full_refresh", "select 'full'"), DAGTask("incremental", "select 'delta'")]
    op.deploy(dag)
    run = op.run(dag)
    second = op.run(dag, config={"mode": "delta"})

    assert (run.state, second.state) == ("SUCCEEDED", "SUCCEEDED")
    assert states(op, dag, run.run_id) == {
        "pick": "SUCCEEDED",
        "full_refresh": "SUCCEEDED",
        "incremental": "SKIPPED",
    }
    assert states(op, dag, second.run_id)["full_refresh"] == "SKIPPED"


def test_a_finalizer_runs_after_a_failed_task_and_sees_the_failure_in_task_history(
    op: LocalDAGOperation,
) -> None:
    # Shape: https://docs.snowflake.com/en/user-guide/tasks-graphs ("Finalizer task": runs after all other
    # tasks, succeeded or not, e.g. to report failures) reading TASK_HISTORY for its own run
    # (https://docs.snowflake.com/en/sql-reference/functions/task_history, ROOT_TASK_ID and ERROR_ONLY).
    seen: list[dict[str, Any]] = []

    def report(session: Any) -> None:
        ctx = TaskContext(session)
        uuid = ctx.get_current_root_task_uuid()
        seen.extend(task_history(op.store, utc_now(), root_task_id=uuid, error_only=True))

    def load(session: Any) -> None:
        raise RuntimeError("source file missing")

    with DAG("nightly") as dag:
        DAGTask("load", load) >> DAGTask("publish", "select 1")
        DAGTask("report", report, is_finalizer=True)
    op.deploy(dag)
    run = op.run(dag)

    assert run.state == "FAILED"
    assert states(op, dag, run.run_id) == {"load": "FAILED", "publish": "NOT_EXECUTED", "report": "SUCCEEDED"}
    assert [(r["NAME"], r["STATE"]) for r in seen] == [("NIGHTLY$LOAD", "FAILED")]
    assert "source file missing" in seen[0]["ERROR_MESSAGE"] and set(seen[0]) == set(TASK_HISTORY_COLUMNS)


def test_a_sql_finalizer_selects_its_runs_failures_from_task_history(op: LocalDAGOperation) -> None:
    # Shape: as above, the finalizer in SQL, as the docs' examples write it.
    with DAG("nightly_sql") as dag:
        DAGTask("load", "select * from NO_SUCH_TABLE")
        DAGTask(
            "report",
            "select NAME, STATE from table(information_schema.task_history("
            "root_task_id => SYSTEM$TASK_RUNTIME_INFO('CURRENT_ROOT_TASK_UUID'), error_only => true))",
            is_finalizer=True,
        )
    op.deploy(dag)
    run = op.run(dag)
    assert states(op, dag, run.run_id)["report"] == "SUCCEEDED", run.first_error_message


def aggregate(session: Any) -> str:
    from snowflake.snowpark.functions import sum as sum_

    session.sql(
        "create or replace table TARGET as select * from (values ('a', 1), ('a', 2), ('b', 5)) as t(A, B)"
    ).collect()
    session.table("TARGET").group_by("A").agg(sum_("B").alias("TOTAL")).write.save_as_table(
        "AGG_TABLE", mode="overwrite"
    )
    return str(session.table("AGG_TABLE").count())


def test_a_dataframe_task_aggregates_a_table_as_dagv1s_example(op: LocalDAGOperation) -> None:
    # Shape: snowflake/core/task/dagv1.py module docstring, Example 1 ("dosomething": session.table("target")
    # .group_by("a").agg(sum_("b")).save_as_table("agg_table")).
    with DAG("df_graph", use_func_return_value=True) as dag:
        DAGTask("dosomething", aggregate)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    assert {r.name: r.return_value for r in op.task_history(dag)}["DF_GRAPH$DOSOMETHING"] == "2"


@remote("DEMO_POOL", stage_name="JOB_STAGE", target_instances=1)
def count_rows(session: Any) -> None:
    TaskContext(session).set_return_value(str(session.sql("select 41 + 1 as N").collect()[0]["N"]))


def test_a_remote_task_queries_through_its_session(op: LocalDAGOperation) -> None:
    # Shape: https://docs.snowflake.com/en/developer-guide/snowflake-ml/ml-jobs/overview (an @remote function
    # used as a task definition, receiving the session) and the guide's TRAIN_MODEL task.
    with DAG("remote_graph") as dag:
        DAGTask("job", count_rows)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    assert {r.name: r.return_value for r in op.task_history(dag)}["REMOTE_GRAPH$JOB"] == "42"


def test_a_join_whose_when_names_one_task_runs_on_that_tasks_state_alone(op: LocalDAGOperation) -> None:
    # https://docs.snowflake.com/en/sql-reference/functions/system_task_completion_state: in a WHEN clause the
    # task branches on the named task's completion state "rather than on the outcome of all of the current
    # task's predecessors" — so an alert after [extract, audit] runs when extract FAILED.
    def extract(session: Any) -> None:
        raise RuntimeError("upstream API down")

    with DAG("guarded") as dag:
        failing, audit = DAGTask("extract", extract), DAGTask("audit", "select 1")
        alert = DAGTask(
            "alert", "select 'paged'", condition="SYSTEM$TASK_COMPLETION_STATE('GUARDED$EXTRACT') = 'FAILED'"
        )
        alert.add_predecessors([failing, audit])
    op.deploy(dag)
    run = op.run(dag)

    assert states(op, dag, run.run_id) == {"extract": "FAILED", "audit": "SUCCEEDED", "alert": "SUCCEEDED"}
