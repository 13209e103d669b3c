"""Setup names what an admin must create; plan diffs the spec against what is deployed."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from adapters.simulator.feature_store.data_generator import generate_mortgage_data
from adapters.snowflake.plan import DeployPlan, deployed_graph, described_spec, diff
from adapters.snowflake.scheduler import SnowflakeScheduler
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.setup import required_objects, setup_snowflake
from app.provisioning import setup_snowflake_account
from domain.config import PipelineConfig
from domain.errors import BackendUnavailable, InvalidData, NotFound, Unsupported
from domain.pipeline import pipeline_graph
from tests.unit.snowflake.sf_fakes import FakeSchema, ScriptedSession


def test_the_compute_pool_fix_is_the_exact_create_and_grant() -> None:
    _, fix = required_objects(SnowflakeNames())["compute pool DEMO_POOL"]
    assert fix == (
        "CREATE COMPUTE POOL IF NOT EXISTS DEMO_POOL MIN_NODES = 1 MAX_NODES = 2 INSTANCE_FAMILY = CPU_X64_S; "
        "GRANT USAGE ON COMPUTE POOL DEMO_POOL TO ROLE ENGINEER"
    )


def test_the_notification_integration_fix_creates_one_with_default_recipients() -> None:
    _, fix = required_objects(SnowflakeNames())["notification integration DEMO_NOTIFICATION_INTEGRATION"]
    # The notifier sends through SNOWFLAKE.NOTIFICATION.INTEGRATION(name), which mails DEFAULT_RECIPIENTS.
    assert fix.startswith(
        "CREATE NOTIFICATION INTEGRATION IF NOT EXISTS DEMO_NOTIFICATION_INTEGRATION TYPE = EMAIL ENABLED = TRUE "
        "DEFAULT_RECIPIENTS = ('<verified email of a user in this account>') DEFAULT_SUBJECT = 'Model Training Status'; "
        "GRANT USAGE ON INTEGRATION DEMO_NOTIFICATION_INTEGRATION TO ROLE ENGINEER; -- first replace"
    )


def test_bad_source_data_is_refused_before_anything_is_created(tmp_path: Any) -> None:
    class NoSql:
        def sql(self, text: str) -> None:
            raise AssertionError(f"nothing may run: {text}")

    with pytest.raises(InvalidData, match="does not exist"):
        setup_snowflake(NoSql(), data_path=tmp_path / "missing.csv")


class UploadingSession(ScriptedSession):
    """Records ``write_pandas`` calls after checking them against the real ``Session.write_pandas``."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[dict[str, Any]] = []

    def write_pandas(self, df: Any, table_name: str, **kwargs: Any) -> None:
        from snowflake.snowpark import Session

        inspect.signature(Session.write_pandas).bind(self, df, table_name, **kwargs)
        self.written.append({"table_name": table_name, **kwargs})


def test_upload_gives_write_pandas_the_stored_names_it_will_quote() -> None:
    session = UploadingSession()
    names = SnowflakeNames(database="snowbank", data_schema='"Raw Data"', source_table="loans")
    report = setup_snowflake(session, names, data=generate_mortgage_data(60))
    assert report.rows_uploaded == 60
    (call,) = session.written
    assert (call["database"], call["schema"], call["table_name"]) == ("SNOWBANK", "Raw Data", "LOANS")
    assert call["quote_identifiers"] is True
    assert session.bound[session.queries.index(next(q for q in session.queries if "ROW_COUNT" in q))] == [
        "Raw Data",
        "LOANS",
    ]


def test_data_every_run_would_fail_on_is_refused_before_anything_is_created() -> None:
    session = UploadingSession()
    with pytest.raises(InvalidData, match="MORTGAGERESPONSE must hold both classes"):
        setup_snowflake(session, SnowflakeNames(), data=generate_mortgage_data(60).assign(MORTGAGERESPONSE=0))
    assert session.queries == [] and session.written == []


def _table_with_rows(session: UploadingSession) -> None:
    # INFORMATION_SCHEMA.TABLES' ROW_COUNT column (docs: information-schema/tables)
    session.answer(r"ROW_COUNT from .*INFORMATION_SCHEMA\.TABLES", [(1000,)])


# No SHOW answers: the admin objects are reported missing (setup raises after uploading), which keeps the
# feature store out of it; what matters here is whether the rows were written.
def test_setup_keeps_a_source_table_that_has_rows() -> None:
    session = UploadingSession()
    _table_with_rows(session)
    with pytest.raises(BackendUnavailable) as raised:
        setup_snowflake_account(session, SnowflakeNames(), rows=100)
    assert session.written == []
    assert "Uploaded" not in str(raised.value)


def test_setup_force_replaces_a_source_table_that_has_rows() -> None:
    session = UploadingSession()
    _table_with_rows(session)
    with pytest.raises(BackendUnavailable) as raised:
        setup_snowflake_account(session, SnowflakeNames(), rows=100, force=True)
    (call,) = session.written
    assert call["overwrite"] is True
    assert "Uploaded 100 rows to the source table." in str(raised.value)


def test_admin_objects_are_looked_up_by_their_stored_names() -> None:
    show, _ = required_objects(SnowflakeNames(compute_pool='"Pool\'s"'))['compute pool "Pool\'s"']
    assert show == "SHOW COMPUTE POOLS LIKE 'Pool''s'"


def task_function(session: object) -> str:
    return "ok"


def _scheduler(schema: FakeSchema) -> SnowflakeScheduler:
    return SnowflakeScheduler(None, SnowflakeNames(), lambda spec: task_function, schema=schema)


def test_plan_of_a_deployed_graph_has_no_differences() -> None:
    schema = FakeSchema()
    graph = pipeline_graph(PipelineConfig(), name="G", warehouse="DEMO_WH")
    scheduler = _scheduler(schema)
    scheduler.deploy(graph)
    assert (
        diff(described_spec(graph, scheduler), deployed_graph(None, SnowflakeNames(), "G", schema=schema))
        == []
    )


def test_plan_shows_a_changed_config_and_a_new_task() -> None:
    schema = FakeSchema()
    graph = pipeline_graph(PipelineConfig(), name="G", warehouse="DEMO_WH")
    scheduler = _scheduler(schema)
    scheduler.deploy(graph)
    del schema.tasks.tasks["G$send_alert"]
    changed = graph.with_config(metric_threshold=0.9)
    lines = diff(
        described_spec(changed, scheduler), deployed_graph(None, SnowflakeNames(), "G", schema=schema)
    )
    assert lines[0] == "+ task G$SEND_ALERT"
    assert "~ graph config metric_threshold: 0.7 -> 0.9" in lines


def test_plan_of_an_undeployed_graph_is_not_found() -> None:
    with pytest.raises(NotFound, match="not deployed"):
        deployed_graph(None, SnowflakeNames(), "G", schema=FakeSchema())


def test_an_offline_plan_describes_what_a_deploy_creates_as_the_scheduler_builds_it() -> None:
    graph = pipeline_graph(PipelineConfig(), name="G", warehouse="DEMO_WH")

    offline = DeployPlan(SnowflakeNames(), lambda spec: task_function).describe(graph)

    assert offline == described_spec(graph, _scheduler(FakeSchema()))


def test_an_offline_plan_has_nothing_to_compare_with_and_says_so() -> None:
    plan = DeployPlan(SnowflakeNames(), lambda spec: task_function)
    spec = plan.describe(pipeline_graph(PipelineConfig(), name="G"))

    assert not plan.can_compare
    with pytest.raises(Unsupported, match="no deployed graph to compare with"):
        plan.changes(spec)
