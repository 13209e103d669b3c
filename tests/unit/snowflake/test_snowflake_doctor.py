"""``doctor`` on Snowflake, through a real Snowpark ``Session`` over the recording connection.

Rows are shaped as the libraries read them: ``SHOW COMPUTE POOLS`` has ``name`` and ``max_nodes``
(snowflake/ml/jobs/job_definition.py ``MLJobDefinition._register`` reads ``int(pool_info["max_nodes"])``);
``SHOW WAREHOUSES/STAGES/…`` rows only need to exist (snowflake/snowpark/stored_procedure_profiler.py
``set_target_stage`` treats a non-empty ``show stages like …`` as "exists"); Anaconda terms and
``information_schema.packages`` are answered by ``RecordingConnection`` as Snowpark queries them
(snowflake/snowpark/session.py ``_is_anaconda_terms_acknowledged``, ``_get_available_versions_for_packages``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.snowflake.doctor import ANACONDA_FIX, SnowflakeDoctor
from adapters.snowflake.scheduler import DEPLOY_PACKAGES
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.setup import required_objects, setup_statements
from domain.errors import BackendUnavailable
from domain.readiness import ready
from tests.snowflake_offline.connection import DEFAULT_PACKAGES, RecordingConnection, recording_session

NAMES = SnowflakeNames()
SHOWN = r"^SHOW (WAREHOUSES|NOTIFICATION INTEGRATIONS|DATABASES|SCHEMAS|STAGES) LIKE '(?P<n>[^']+)'"


def account_with_everything(conn: RecordingConnection, *, max_nodes: int = 2) -> None:
    conn.answer(SHOWN, lambda sql, _p: [(sql.split("'")[1],)], [("name", "TEXT")])
    conn.answer(
        r"^SHOW COMPUTE POOLS LIKE", [("DEMO_POOL", max_nodes)], [("name", "TEXT"), ("max_nodes", "FIXED")]
    )


@pytest.fixture
def conn() -> RecordingConnection:
    return RecordingConnection()


@pytest.fixture
def session(conn: RecordingConnection) -> Iterator[Any]:
    s = recording_session(conn)
    yield s
    s.close()


def doctor(session: Any, target_instances: int = 2) -> SnowflakeDoctor:
    return SnowflakeDoctor(lambda: session, NAMES, target_instances=target_instances, connection="ci")


def by_name(session: Any, **kwargs: Any) -> dict[str, Any]:
    return {c.name: c for c in doctor(session, **kwargs).checks()}


def test_an_account_with_every_object_role_terms_and_package_is_ready(
    conn: RecordingConnection, session: Any
) -> None:
    account_with_everything(conn)

    checks = doctor(session).checks()

    assert ready(checks), [c for c in checks if not c.ok]
    assert {c.name for c in checks} >= {
        "connection", "role", "compute pool DEMO_POOL", "warehouse DEMO_WH", "stage SNOWBANK.DEV.DAG_STAGE",
        "notification integration DEMO_NOTIFICATION_INTEGRATION", "Anaconda terms",
    }  # fmt: skip
    assert conn.executed(r"^SELECT CURRENT_ROLE\(\)$")
    assert conn.executed(r"^SHOW STAGES LIKE 'JOB_STAGE' IN SCHEMA SNOWBANK\.DEV$")


def test_missing_admin_objects_are_fixed_by_setups_own_create_and_grant(session: Any) -> None:
    checks = by_name(session)

    for label, (_show, fix) in required_objects(NAMES).items():
        assert not checks[label].ok and checks[label].fix == fix


def test_missing_stages_and_schemas_are_fixed_by_setups_own_statements(session: Any) -> None:
    statements = setup_statements(NAMES)
    failed = [c for c in doctor(session).checks() if c.name.split()[0] in ("database", "schema", "stage")]

    assert len(failed) == 6 and not any(c.ok for c in failed)
    assert all(c.fix.split(" (or: ")[0] in statements for c in failed)


def test_a_pool_smaller_than_the_job_is_not_ready_and_the_alter_fixes_it(
    conn: RecordingConnection, session: Any
) -> None:
    account_with_everything(conn, max_nodes=1)

    pool = by_name(session, target_instances=2)["compute pool DEMO_POOL"]

    assert not pool.ok and pool.fix == "ALTER COMPUTE POOL DEMO_POOL SET MAX_NODES = 2"


def test_a_session_in_another_role_is_not_ready(conn: RecordingConnection, session: Any) -> None:
    account_with_everything(conn)
    conn.role = "PUBLIC"

    role = by_name(session)["role"]

    assert not role.ok and "PUBLIC, not ENGINEER" in role.detail and "GRANT ROLE ENGINEER" in role.fix


def test_unaccepted_anaconda_terms_are_not_ready_and_name_the_orgadmin(
    conn: RecordingConnection, session: Any
) -> None:
    account_with_everything(conn)
    conn.answer(r"system\$are_anaconda_terms_acknowledged", [(False,)], [("A", "BOOLEAN")])

    terms = by_name(session)["Anaconda terms"]

    assert not terms.ok and terms.fix == ANACONDA_FIX and "ORGADMIN" in terms.fix


def test_a_package_the_channel_does_not_serve_is_not_ready(conn: RecordingConnection, session: Any) -> None:
    account_with_everything(conn)
    conn.answer_packages({k: v for k, v in DEFAULT_PACKAGES.items() if k != "xgboost"})

    checks = doctor(session).checks()

    missing = [c for c in checks if not c.ok]
    assert [c.name for c in missing] == [f"package {p}" for p in DEPLOY_PACKAGES if p.startswith("xgboost")]
    assert "not served" in missing[0].detail
    assert len([c for c in checks if c.name.startswith("package ")]) == len(DEPLOY_PACKAGES)


def test_a_connection_that_cannot_open_is_the_only_check_and_names_the_entry() -> None:
    def fail() -> Any:
        raise BackendUnavailable("connection 'ci' is not in connections.toml")

    checks = SnowflakeDoctor(fail, NAMES, target_instances=2, connection="ci").checks()

    assert [(c.name, c.ok) for c in checks] == [("connection", False)]
    assert "[ci]" in checks[0].fix and "not in connections.toml" in checks[0].detail
