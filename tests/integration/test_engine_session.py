"""Inside a task: TaskContext on the simulated session, SQL tasks, SYSTEM$ calls, notifications, ML Jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from snowflake.core.task.context import TaskContext
from snowflake.core.task.dagv1 import DAG, DAGTask, DAGTaskBranch
from snowflake.ml.jobs import MLJobDefinition
from snowflake.snowpark import Session

from adapters.simulator import LocalDAGOperation
from domain.refs import JobRef, Notification


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Notification]] = []

    def send(self, integration: str, message: Notification) -> None:
        self.sent.append((integration, message))


class InlineJobRunner:
    """Runs the job's function at once, on the calling thread, and records the submission."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self._results: dict[str, Any] = {}

    def submit_function(
        self,
        func: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        compute_pool: str,
        target_instances: int = 1,
        min_instances: int | None = None,
        name: str | None = None,
        session: dict[str, Any] | None = None,
        session_argument: bool = False,
    ) -> JobRef:
        from snowflake.snowpark import Session
        from snowflake.snowpark._internal.server_connection import ServerConnection

        self.submitted.append({"pool": compute_pool, "instances": target_instances, "name": name})
        if session_argument and session is not None:  # the job's own session, as SimJobRunner's worker opens
            args = (Session(ServerConnection(session), session), *args)
        job = JobRef(f"SIMULATOR.PUBLIC.JOB_{len(self.submitted)}")
        self._results[job.id] = func(*args, **(kwargs or {}))
        return job

    def function_result(self, job: JobRef, timeout: float | None = None) -> Any:
        return self._results[job.id]


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def runner() -> InlineJobRunner:
    return InlineJobRunner()


@pytest.fixture
def op(notifier: RecordingNotifier, runner: InlineJobRunner) -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation(notifier=notifier, job_runner=runner) as operation:
        yield operation


def run_one(op: LocalDAGOperation, definition: Any, **dag_kwargs: Any) -> tuple[Any, list[Any]]:
    with DAG("ctx", **dag_kwargs) as dag:
        DAGTask("t", definition)
    op.deploy(dag)
    run = op.run(dag)
    return run, op.task_history(dag, run.run_id)


def test_task_context_names_and_runtime_info(op: LocalDAGOperation) -> None:
    seen: dict[str, Any] = {}

    def probe(session: Any) -> None:
        ctx = TaskContext(session)
        seen.update(
            name=ctx.get_current_task_name(),
            short=ctx.get_current_task_short_name(),
            root=ctx.get_current_root_task_name(),
            uuid=ctx.get_current_root_task_uuid(),
            scheduled=ctx.get_current_task_graph_original_schedule(),
            group=ctx.get_current_task_graph_run_group_id(),
            last_ok=ctx.get_last_successful_task_graph_original_schedule(),
            last_group=ctx.get_last_successful_task_graph_run_group_id(),
        )

    run, history = run_one(op, probe)
    assert run.state == "SUCCEEDED", run.first_error_message
    assert (seen["name"], seen["short"], seen["root"]) == ("CTX$T", "T", "CTX")
    assert isinstance(seen["scheduled"], datetime)
    assert seen["scheduled"].strftime("v%Y%m%d_%H%M%S") == run.scheduled_time.strftime("v%Y%m%d_%H%M%S")
    assert seen["group"] == history[-1].graph_run_group_id and seen["uuid"]
    assert seen["last_ok"] is None and seen["last_group"] is None


def test_last_successful_run_is_visible_to_the_next_run(op: LocalDAGOperation) -> None:
    seen: list[Any] = []
    with DAG("twice") as dag:
        DAGTask("t", lambda s: seen.append(TaskContext(s).get_last_successful_task_graph_run_group_id()))
    op.deploy(dag)
    op.run(dag)
    op.run(dag)
    first_group = op.task_history(dag)[0].graph_run_group_id
    assert seen == [None, first_group]


def test_set_return_value_through_task_context(op: LocalDAGOperation) -> None:
    _, history = run_one(op, lambda s: TaskContext(s).set_return_value({"k": 1}))
    assert history[-1].return_value == "{'k': 1}"


def test_sql_tasks_run_on_duckdb_in_snowflake_dialect(op: LocalDAGOperation) -> None:
    with DAG("sqlg") as dag:
        make = DAGTask("make", "create table T (ID int, NAME varchar)")
        fill = DAGTask(
            "fill", "insert into T select seq4(), 'n' || seq4() from table(generator(rowcount => 3))"
        )
        make >> fill
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED", run.first_error_message
    with op.account.cursor() as cur:
        # unqualified names in task SQL resolve in the task's database and schema, SIMULATOR.PUBLIC
        assert cur.execute("select count(*) from SIMULATOR.PUBLIC.T").fetchone() == (3,)


def test_call_set_return_value_in_a_sql_branch(op: LocalDAGOperation) -> None:
    with DAG("sqlbr") as dag:
        choose = DAGTaskBranch("choose", "CALL SYSTEM$SET_RETURN_VALUE('yes')")
        choose >> [DAGTask("yes", "select 1"), DAGTask("no", "select 1")]
    op.deploy(dag)
    run = op.run(dag)
    assert op.task_states(dag, run.run_id) == {"choose": "SUCCEEDED", "yes": "SUCCEEDED", "no": "SKIPPED"}


def test_session_sql_collects_rows_and_serves_system_functions(op: LocalDAGOperation) -> None:
    seen: list[Any] = []

    def query(session: Any) -> None:
        row = session.sql(
            "select iff(1 = 1, 'a', 'b') as x, system$get_task_graph_config('k') as k"
        ).collect()[0]
        seen.append((row.X, row[1]))

    run, _ = run_one(op, query, config={"k": "v"})
    assert run.state == "SUCCEEDED", run.first_error_message
    assert seen == [("a", "v")]


def test_sql_errors_fail_the_task_with_the_statement(op: LocalDAGOperation) -> None:
    run, _ = run_one(op, "select * from NO_SUCH_TABLE")
    assert run.state == "FAILED" and "NO_SUCH_TABLE" in run.first_error_message


@pytest.mark.parametrize(
    ("wrapper", "content_type"), [("TEXT_PLAIN", "text/plain"), ("TEXT_HTML", "text/html")]
)
def test_notifications_go_through_the_notifier(
    op: LocalDAGOperation, notifier: RecordingNotifier, wrapper: str, content_type: str
) -> None:
    sql = (
        f"CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.{wrapper}("
        "SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT('model is weak')), "
        "SNOWFLAKE.NOTIFICATION.INTEGRATION('ALERTS'))"
    )
    run, _ = run_one(op, sql)
    assert run.state == "SUCCEEDED", run.first_error_message
    [(integration, message)] = notifier.sent
    assert (integration, message.body, message.content_type) == ("ALERTS", "model is weak", content_type)


def test_a_notification_through_an_unknown_integration_fails_the_task_naming_it() -> None:
    with LocalDAGOperation() as op:  # the default notifier: the account's integrations
        sql = (
            "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('x'), "
            "SNOWFLAKE.NOTIFICATION.INTEGRATION('A'))"
        )
        run, _ = run_one(op, sql)
    assert run.state == "FAILED" and "integration A does not exist" in run.first_error_message


def test_an_ml_job_definition_runs_through_the_job_runner(
    op: LocalDAGOperation, runner: InlineJobRunner
) -> None:
    def train(session: Any) -> None:
        TaskContext(session).set_return_value("trained")

    job = MLJobDefinition(train, compute_pool="POOL", stage_name="@JOBS", name="TRAIN", target_instances=2)
    run, history = run_one(op, job)
    assert run.state == "SUCCEEDED", run.first_error_message
    assert runner.submitted == [{"pool": "POOL", "instances": 2, "name": "TRAIN"}]
    assert history[-1].return_value == "trained"


def test_an_ml_job_on_a_pool_the_account_lacks_fails_naming_the_create() -> None:
    job = MLJobDefinition(lambda: None, compute_pool="POOL", stage_name="@JOBS", name="TRAIN")
    with LocalDAGOperation() as op:  # the default job runner: the account's pools
        run, _ = run_one(op, job)
    assert run.state == "FAILED" and "CREATE COMPUTE POOL IF NOT EXISTS POOL" in run.first_error_message


def test_the_session_factory_decorates_the_session_tasks_receive() -> None:
    seen: list[Any] = []

    def factory(session: Any) -> Any:
        session.extra = "attached"
        return session

    with LocalDAGOperation(session_factory=factory) as op:
        run_one(op, lambda s: seen.append((s.extra, type(s))))
    assert seen == [("attached", Session)]
