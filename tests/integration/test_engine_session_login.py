"""A task's session logs in when the task first uses it: a task that never does costs no login."""

from __future__ import annotations

from typing import Any

from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session
from snowflake.snowpark.context import get_active_session

from adapters.simulator import LocalDAGOperation
from adapters.simulator.sql.session import open_session


def test_tasks_that_never_use_their_session_never_log_in() -> None:
    with LocalDAGOperation() as op:
        with DAG("quiet") as dag:
            DAGTask("a", lambda session: None) >> DAGTask("b", lambda session: None)
        op.deploy(dag)
        assert op.run(dag).state == "SUCCEEDED"
        # the server numbers its logins (the login response's sessionId): this one is the first
        assert open_session(op.account).session_id == 1


def test_a_session_used_late_is_a_real_session_and_the_active_one() -> None:
    seen: dict[str, Any] = {}

    def task(session: Any) -> None:
        seen["before"] = isinstance(session, Session)
        session.query_tag = "late"  # the first use logs in
        seen["after"] = (type(session), session.query_tag, get_active_session() is session)
        seen["rows"] = session.sql("select 41 + 1 as x").collect()[0].X

    with LocalDAGOperation() as op:
        with DAG("late") as dag:
            DAGTask("t", task)
        op.deploy(dag)
        run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    assert seen == {"before": True, "after": (Session, "late", True), "rows": 42}
