"""Everything a graph needs comes with ``LocalDAGOperation()``: the job runner, a notifier (the local mailbox),
``DAGOperation.delete``, and Snowflake's structural limits checked at deploy.

Limits: https://docs.snowflake.com/en/user-guide/tasks-graphs ("A task graph is limited to a maximum of 1000
tasks. A single task can have a maximum of 100 parent tasks and 100 child tasks." — fan limits are covered in
test_engine_operations.py).
"""

from __future__ import annotations

import mailbox
import warnings
from pathlib import Path
from typing import Any

import pytest
from snowflake.core.task.context import TaskContext
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.ml.jobs import remote

from adapters.simulator import LocalDAGOperation
from adapters.simulator.notifications.integrations import IntegrationCatalog
from domain.errors import InvalidConfig, NotFound
from domain.graph import MAX_TASKS
from domain.refs import JobStatus


def ok(session: Any) -> str:
    return "ok"


@remote("DEMO_POOL", stage_name="JOB_STAGE", target_instances=1)
def remote_job(session: Any) -> None:
    TaskContext(session).set_return_value("trained remotely")


def job_graph() -> DAG:
    with DAG("jobs_by_default") as dag:
        DAGTask("train", definition=remote_job)
    return dag


def test_an_ml_job_task_runs_on_a_new_operation_without_a_job_runner() -> None:
    with LocalDAGOperation() as op:
        dag = job_graph()
        op.deploy(dag)
        run = op.run(dag)
        history = {r.name: r for r in op.task_history(dag)}
        with op.account.cursor() as cur:
            ((status, pool),) = cur.execute("select STATUS, COMPUTE_POOL from ML_JOBS").fetchall()

    assert run.state == "SUCCEEDED", run.first_error_message
    assert history["JOBS_BY_DEFAULT$TRAIN"].return_value == "trained remotely"
    assert (JobStatus(status), pool) == (JobStatus.DONE, "DEMO_POOL")


def test_on_a_home_an_ml_job_needs_a_pool_the_home_holds(tmp_path: Path) -> None:
    # A temporary account is a sandbox and comes with DEMO_POOL; a home runs jobs only on the pools it holds
    # (setup creates the configured one), as Snowflake refuses a job on a pool that does not exist.
    with LocalDAGOperation(tmp_path / "home") as op:
        dag = job_graph()
        op.deploy(dag)
        run = op.run(dag)
        error = {r.name: r for r in op.task_history(dag)}["JOBS_BY_DEFAULT$TRAIN"].error_message

    assert run.state == "FAILED"
    assert "compute pool DEMO_POOL does not exist" in error and "CREATE COMPUTE POOL" in error


def test_a_new_operation_mails_notifications_to_the_local_mailbox() -> None:
    with LocalDAGOperation() as op:
        IntegrationCatalog(op.account).create_integration(
            "ops_mail", type="EMAIL", default_recipients=["ops@example.com"]
        )
        with DAG("notify_by_default") as dag:
            DAGTask(
                "alert",
                "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('model rejected'), "
                "SNOWFLAKE.NOTIFICATION.INTEGRATION('ops_mail'))",
            )
        op.deploy(dag)
        run = op.run(dag)
        box = mailbox.mbox(op.account.path("mail", "OPS_MAIL.mbox"))
        messages = [(m["To"], m.get_payload().strip()) for m in box]

    assert run.state == "SUCCEEDED", run.first_error_message
    assert messages == [("ops@example.com", "model rejected")]


def test_delete_is_dagv1s_deprecated_alias_of_drop() -> None:
    # dagv1.DAGOperation.delete(dag) is @deprecated("drop") and calls drop(dag=dag): the finalizer is kept.
    with LocalDAGOperation() as op:
        with DAG("doomed") as dag:
            DAGTask("a", ok)
            DAGTask("cleanup", ok, is_finalizer=True)
        op.deploy(dag)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            op.delete(dag)
        with pytest.raises(NotFound):
            op.graph_info(dag)
        kept = op.store.leftover_tasks(["DOOMED$A", "DOOMED$CLEANUP"])

    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any("`delete` method is deprecated; use :func:`drop` instead" in m for m in messages)
    assert kept == ["DOOMED$CLEANUP"]


def wide(name: str, tasks: int) -> DAG:
    """``tasks`` tasks besides the root: ten hubs under the root, the rest spread below them (≤100 children)."""
    with DAG(name) as dag:
        hubs = [DAGTask(f"hub{i}", ok) for i in range(10)]
        for i in range(tasks - len(hubs)):
            hubs[i % len(hubs)] >> DAGTask(f"t{i}", ok)
    return dag


def test_a_graph_of_1000_tasks_with_its_root_deploys() -> None:
    with LocalDAGOperation() as op:
        op.deploy(wide("big", MAX_TASKS - 1))
        assert len(op.graph_info("big").structure["tasks"]) == MAX_TASKS - 1


def test_a_graph_of_1001_tasks_is_refused_at_deploy_and_nothing_is_stored() -> None:
    with LocalDAGOperation() as op:
        with pytest.raises(InvalidConfig, match="has 1001 tasks; Snowflake allows at most 1000"):
            op.deploy(wide("huge", MAX_TASKS))
        assert op.iter_dags(like="huge") == []
