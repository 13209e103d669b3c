"""An ``@remote`` ML Job definition used as a task runs as a job on the simulator's JobRunner, in its own
processes, and still reaches its task through TaskContext — as the guide's TRAIN_MODEL task does."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.core.task.context import TaskContext
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.ml.jobs import remote

from adapters.simulator import LocalDAGOperation
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.jobs.runner import SimJobRunner
from domain.refs import JobRef, JobStatus
from tests.support.processes import worker_pids


@pytest.fixture
def account() -> Iterator[LocalAccount]:
    with LocalAccount(None) as acct:
        yield acct


def prepare(session: Any) -> str:
    return "dataset-v1"


@remote("DEMO_POOL", stage_name="JOB_STAGE", target_instances=2)
def train(session: Any) -> None:
    ctx = TaskContext(session)
    upstream = ctx.get_predecessor_return_value("PREPARE")
    ctx.set_return_value(
        f"trained on {upstream} by pid {os.getpid()} with {os.environ['SNOWFLAKE_JOBS_COUNT']}"
    )


@remote("DEMO_POOL", stage_name="JOB_STAGE", target_instances=1)
def broken(session: Any) -> None:
    raise RuntimeError("out of memory on purpose")


@remote("DEMO_POOL", stage_name="JOB_STAGE", target_instances=2)
def endless(session: Any) -> None:
    time.sleep(120)


@remote("DEMO_POOL", stage_name="JOB_STAGE", target_instances=1)
def count_loans() -> None:
    from snowflake.snowpark import Session
    from snowflake.snowpark.context import get_active_session

    session = get_active_session()  # no parameter: the job's active session
    loans = session.table("SIMULATOR.PUBLIC.LOANS").filter("AMOUNT > 10").count()
    upstream = session.sql("select system$get_predecessor_return_value('JOBS$PREPARE')").collect()[0][0]
    TaskContext(session).set_return_value(
        f"{type(session) is Session} {loans} loans after {upstream} in pid {os.getpid()}"
    )


def run_graph(account: LocalAccount, job: Any, timeout_ms: int | None = None) -> tuple[Any, dict[str, Any]]:
    runner = SimJobRunner(account)
    with (
        LocalDAGOperation(account=account, job_runner=runner) as op,
        DAG("JOBS", use_func_return_value=True) as dag,
    ):
        first = DAGTask("prepare", definition=prepare)
        second = DAGTask("train", definition=job, user_task_timeout_ms=timeout_ms)
        first >> second
        op.deploy(dag)
        run = op.run(dag)
        history = {r.name: r for r in op.task_history(dag)}
    return run, history


def test_the_job_runs_in_its_own_processes_and_sets_its_tasks_return_value(account: LocalAccount) -> None:
    run, history = run_graph(account, train)

    assert run.state == "SUCCEEDED", run.first_error_message
    value = history["JOBS$TRAIN"].return_value
    assert value.startswith("trained on dataset-v1 by pid ") and value.endswith("with 2")
    assert f"pid {os.getpid()} " not in value
    with account.cursor() as cur:
        ((status, instances),) = cur.execute("select STATUS, TARGET_INSTANCES from ML_JOBS").fetchall()
    assert (JobStatus(status), instances) == (JobStatus.DONE, 2)


def test_a_remote_function_gets_a_snowpark_session_of_its_task_in_its_own_process(
    account: LocalAccount,
) -> None:
    from adapters.simulator.sql.session import open_session

    session = open_session(account)
    session.sql("create table LOANS (ID int, AMOUNT int)").collect()
    session.sql("insert into LOANS values (1, 10), (2, 20), (3, 30)").collect()
    session.close()

    run, history = run_graph(account, count_loans)

    assert run.state == "SUCCEEDED", run.first_error_message
    value = history["JOBS$TRAIN"].return_value
    assert value.startswith("True 2 loans after dataset-v1 in pid ")
    assert not value.endswith(f" {os.getpid()}")


def test_a_failing_job_fails_its_task_with_the_remote_error(account: LocalAccount) -> None:
    run, history = run_graph(account, broken)

    assert run.state == "FAILED"
    assert "out of memory on purpose" in history["JOBS$TRAIN"].error_message


def test_a_task_over_its_timeout_cancels_its_job_and_kills_the_workers(account: LocalAccount) -> None:
    started = time.monotonic()
    run, history = run_graph(account, endless, timeout_ms=1500)

    assert run.state == "FAILED"
    assert "timed out after 1500 ms" in history["JOBS$TRAIN"].error_message
    with account.cursor() as cur:
        ((job_id,),) = cur.execute("select ID from ML_JOBS").fetchall()
    job = JobRef(job_id)
    assert SimJobRunner(account).wait(job, timeout=10) is JobStatus.CANCELLED
    assert worker_pids(job) == []
    assert time.monotonic() - started < 30
