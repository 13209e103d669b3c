"""Deploy, redeploy, drop and plan through the real snowflake.core REST client and Snowpark's real
``sproc.register``, against the offline harness (tests/snowflake_offline)."""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from snowflake.snowpark import Session

from adapters.snowflake import plan
from adapters.snowflake.scheduler import SnowflakeScheduler
from adapters.snowflake.session import SnowflakeNames
from app.snowflake_tasks import definition_for
from domain.config import PipelineConfig
from domain.errors import BackendUnavailable, InvalidConfig
from domain.graph import GraphSpec, TaskKind, TaskSpec
from domain.pipeline import pipeline_graph
from domain.schedule import IntervalSchedule
from tests.snowflake_offline.harness import OfflineSnowflake, offline_snowflake

G = "MORTGAGE_PIPELINE"
GOLDEN = Path(__file__).parent / "golden"
PYTHON_TASKS = (
    "PREPARE_DATA",
    "TRAIN_MODEL",
    "CHECK_MODEL_QUALITY",
    "PROMOTE_MODEL",
    "SEND_ALERT",
    "CLEANUP",
)


@pytest.fixture
def sf() -> Iterator[OfflineSnowflake]:
    with offline_snowflake() as harness:
        yield harness


def _graph(schedule: IntervalSchedule | None = None) -> GraphSpec:
    return pipeline_graph(PipelineConfig(), name=G, warehouse="DEMO_WH", schedule=schedule)


def _scheduler(sf: OfflineSnowflake) -> SnowflakeScheduler:
    return SnowflakeScheduler(sf.session, SnowflakeNames(), definition_for)


def _normalise(line: str) -> str:
    return re.sub(r"/[0-9a-f]{64}/", "/<sha256>/", line)


def assert_golden(name: str, lines: list[str]) -> None:
    """Compare with golden/<name>.txt; a difference fails with a unified diff (UPDATE_GOLDEN=1 rewrites)."""
    import difflib
    import os

    path = GOLDEN / f"{name}.txt"
    text = "\n".join(lines) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    expected = path.read_text() if path.exists() else ""
    if text != expected:
        diff = "".join(
            difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "actual")
        )
        pytest.fail(f"request sequence differs from {path.name} (UPDATE_GOLDEN=1 to accept):\n{diff}")


def test_deploy_registers_every_python_task_through_snowparks_sproc_register(
    sf: OfflineSnowflake,
) -> None:
    _scheduler(sf).deploy(_graph())

    definitions = sf.task_definitions()
    assert sorted(definitions) == sorted([G, *(f"{G}${t}" for t in PYTHON_TASKS)])
    for task in PYTHON_TASKS:
        sql = definitions[f"{G}${task}"]
        # snowflake/core/task/_task.py _register_task_definition_stored_procedure: anonymous procedure + CALL
        assert sql.lstrip().startswith("WITH task_handler_sp AS PROCEDURE ()"), sql[:80]
        assert "RETURNS STRING" in sql
        assert sql.rstrip().endswith("CALL task_handler_sp()")
        imports = sf.procedure_imports(sql)
        assert [i.rsplit("/", 1)[-1] for i in imports] == ["domain.zip", "adapters.zip", "app.zip"]
        assert all(i in sf.uploads for i in imports), "every import was uploaded by Snowpark"


def test_the_uploaded_zips_hold_the_projects_packages(sf: OfflineSnowflake) -> None:
    _scheduler(sf).deploy(_graph())

    zips = {path.rsplit("/", 1)[-1]: data for path, data in sf.uploads.items()}
    for package in ("domain", "adapters", "app"):
        names = zipfile.ZipFile(BytesIO(zips[f"{package}.zip"])).namelist()
        assert f"{package}/__init__.py" in names
    assert "app/snowflake_tasks.py" in zipfile.ZipFile(BytesIO(zips["app.zip"])).namelist()


def _uploaded_files(sf: OfflineSnowflake) -> list[str]:
    return [u.stage_path.rsplit("/", 1)[-1] for u in sf.connection.upload_log]


def test_one_deploy_uploads_each_zip_once_and_the_other_procedures_import_it_from_the_stage(
    sf: OfflineSnowflake,
) -> None:
    """Snowpark lists the stage before each registration and skips a zip already there
    (snowflake/snowpark/session.py Session._resolve_imports)."""
    _scheduler(sf).deploy(_graph())

    assert sorted(_uploaded_files(sf)) == ["adapters.zip", "app.zip", "domain.zip"]
    assert len(sf.connection.executed(r"^ls '@SNOWBANK\.DEV\.DAG_STAGE'$")) == len(PYTHON_TASKS)


def test_a_redeploy_of_unchanged_code_uploads_no_zip_again(sf: OfflineSnowflake) -> None:
    scheduler = _scheduler(sf)
    scheduler.deploy(_graph())
    first = len(sf.connection.upload_log)

    scheduler.deploy(_graph())

    assert _uploaded_files(sf)[first:] == []
    for definition in sf.task_definitions().values():
        assert all(i in sf.uploads for i in sf.procedure_imports(definition))


def test_a_redeploy_after_a_code_change_uploads_only_the_changed_package(
    sf: OfflineSnowflake, tmp_path: Path
) -> None:
    """The zip's stage folder is the sha256 of its content (Session._resolve_import_path), so a changed
    package lands under a new name, and only that one is uploaded."""
    shutil.copytree(Path(__file__).resolve().parents[3] / "src", tmp_path / "src")
    scheduler = SnowflakeScheduler(sf.session, SnowflakeNames(), definition_for, project_root=tmp_path)
    scheduler.deploy(_graph())
    first = len(sf.connection.upload_log)
    with (tmp_path / "src" / "domain" / "__init__.py").open("a") as changed:
        changed.write("\n# changed\n")

    scheduler.deploy(_graph())

    assert _uploaded_files(sf)[first:] == ["domain.zip"]


def test_the_stage_lists_what_was_put_with_its_size_and_md5(sf: OfflineSnowflake) -> None:
    _scheduler(sf).deploy(_graph())

    listed = {row["name"]: row for row in sf.session.sql("ls @DAG_STAGE").collect()}
    for path, data in sf.uploads.items():
        row = listed[f"dag_stage/{path.removeprefix('@SNOWBANK.DEV.DAG_STAGE/')}"]
        assert (row["size"], row["md5"]) == (len(data), hashlib.md5(data).hexdigest())
    assert len(listed) == len(sf.uploads)


def test_registration_resolves_the_deploy_packages_against_the_channel(sf: OfflineSnowflake) -> None:
    _scheduler(sf).deploy(_graph())

    queries = sf.connection.executed(r"information_schema\.packages")
    assert len(queries) == len(PYTHON_TASKS)
    assert all("'snowflake-ml-python'" in q.sql and "'snowflake.core'" in q.sql for q in queries)


def _definition_snowpark_cannot_register(spec: TaskSpec) -> Any:
    """The bodies as they were before issue 9: ``str | None`` is no type Snowpark can map."""
    if spec.kind is TaskKind.SQL:
        return spec.definition

    def body(session: Session) -> str | None:
        return None

    body.__name__ = spec.definition
    return body


def test_a_deploy_whose_task_cannot_be_registered_leaves_nothing_behind(sf: OfflineSnowflake) -> None:
    scheduler = SnowflakeScheduler(sf.session, SnowflakeNames(), _definition_snowpark_cannot_register)

    with pytest.raises(InvalidConfig) as err:
        scheduler.deploy(_graph())

    assert sf.server.task_names("SNOWBANK", "DEV") == []  # no orphan root
    message = str(err.value)
    assert f"task SNOWBANK.DEV.{G}$prepare_data failed" in message
    assert "invalid type str | None" in message  # Snowpark's own words
    assert "GRANT" not in message


def test_a_task_the_server_refuses_is_reported_and_the_graph_created_so_far_is_dropped(
    sf: OfflineSnowflake,
) -> None:
    sf.server.fail_next("POST", r"(?i)train_model:resume$", 400, "Invalid task definition.")

    with pytest.raises(InvalidConfig) as err:
        _scheduler(sf).deploy(_graph())

    assert sf.server.task_names("SNOWBANK", "DEV") == []
    assert "task SNOWBANK.DEV.MORTGAGE_PIPELINE$train_model failed" in str(err.value)
    assert "Invalid task definition." in str(err.value)
    assert "GRANT" not in str(err.value)


def test_a_forbidden_create_names_the_grants_that_would_help(sf: OfflineSnowflake) -> None:
    sf.server.fail_next("POST", r"/tasks$", 403, "Insufficient privileges to operate on schema 'DEV'.")

    with pytest.raises(BackendUnavailable) as err:
        _scheduler(sf).deploy(_graph())

    assert "GRANT CREATE TASK ON SCHEMA SNOWBANK.DEV TO ROLE ENGINEER" in str(err.value)
    assert sf.server.task_names("SNOWBANK", "DEV") == []


def test_snowparks_package_resolution_sees_the_pinned_versions(sf: OfflineSnowflake) -> None:
    _scheduler(sf).deploy(_graph())

    sql = sf.task_definitions()[f"{G}$TRAIN_MODEL"]
    packages = re.search(r"PACKAGES=\(([^)]*)\)", sql)
    assert packages is not None
    listed = re.findall(r"'([^']+)'", packages.group(1))
    assert {
        "snowflake-snowpark-python==1.56.0",
        "snowflake-ml-python==2.6.0",
        "snowflake.core==1.14.0",
    } <= set(listed)
    assert "xgboost==3.2.0" in listed


def test_a_pin_the_channel_does_not_serve_fails_the_deploy_naming_the_package(sf: OfflineSnowflake) -> None:
    sf.connection.answer_packages({"snowflake-snowpark-python": ["1.56.0"], "snowflake-ml-python": ["2.5.1"]})

    with pytest.raises(InvalidConfig, match=r"snowflake-ml-python==2\.6\.0 because it is not available"):
        _scheduler(sf).deploy(_graph())

    assert sf.server.task_names("SNOWBANK", "DEV") == []


def _requests(sf: OfflineSnowflake) -> list[str]:
    return sf.server.request_lines(_normalise)


def test_first_deploy_request_sequence(sf: OfflineSnowflake) -> None:
    _scheduler(sf).deploy(_graph())
    assert_golden("deploy", _requests(sf))


def test_scheduled_deploy_request_sequence_resumes_the_root_last(sf: OfflineSnowflake) -> None:
    _scheduler(sf).deploy(_graph(IntervalSchedule(timedelta(days=1))))
    assert_golden("deploy_schedule_1d", _requests(sf))
    assert sf.server.tasks[("SNOWBANK", "DEV", G)]["state"] == "started"


def test_redeploy_request_sequence_drops_the_old_graph_finalizer_included(sf: OfflineSnowflake) -> None:
    scheduler = _scheduler(sf)
    scheduler.deploy(_graph(IntervalSchedule(timedelta(days=1))))
    sf.server.clear_requests()
    scheduler.deploy(_graph())
    assert_golden("redeploy", _requests(sf))
    assert sf.server.tasks[("SNOWBANK", "DEV", G)]["state"] == "suspended"


def test_drop_request_sequence_leaves_no_task(sf: OfflineSnowflake) -> None:
    scheduler = _scheduler(sf)
    scheduler.deploy(_graph())
    sf.server.clear_requests()
    scheduler.drop(G)
    assert_golden("drop", _requests(sf))
    assert sf.server.task_names("SNOWBANK", "DEV") == []


def test_plan_of_the_deployed_graph_shows_no_difference(sf: OfflineSnowflake) -> None:
    scheduler = _scheduler(sf)
    scheduler.deploy(_graph())
    names = SnowflakeNames()
    assert (
        plan.diff(plan.described_spec(_graph(), scheduler), plan.deployed_graph(sf.session, names, G)) == []
    )


def test_plan_shows_what_a_deploy_would_change(sf: OfflineSnowflake) -> None:
    scheduler = _scheduler(sf)
    scheduler.deploy(_graph())
    changed = pipeline_graph(
        PipelineConfig(metric_threshold=0.9),
        name=G,
        warehouse="DEMO_WH",
        schedule=IntervalSchedule(timedelta(days=1)),
    )
    lines = plan.diff(
        plan.described_spec(changed, scheduler), plan.deployed_graph(sf.session, SnowflakeNames(), G)
    )
    assert_golden("plan_diff", lines)
