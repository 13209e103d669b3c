"""Deploy, redeploy, drop and plan through the real snowflake.core REST client and Snowpark's real
``sproc.register``, against the offline harness (tests/snowflake_offline)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

from adapters.snowflake.scheduler import SnowflakeScheduler
from adapters.snowflake.session import SnowflakeNames
from app.snowflake_tasks import definition_for
from domain.config import PipelineConfig
from domain.graph import GraphSpec
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


def test_registration_resolves_the_deploy_packages_against_the_channel(sf: OfflineSnowflake) -> None:
    _scheduler(sf).deploy(_graph())

    queries = sf.connection.executed(r"information_schema\.packages")
    assert len(queries) == len(PYTHON_TASKS)
    assert all("'snowflake-ml-python'" in q.sql and "'snowflake.core'" in q.sql for q in queries)
