"""Contract suites: the same tests for each port, run against every selected backend.

``pytest contracts`` runs the in-memory fakes (``tests/fakes.py``) and the simulator. ``pytest contracts
--backend snowflake --connection NAME`` (or ``--backend all``) adds a real account through ``connections.toml``;
without a connection the snowflake cases are skipped with the reason and the way to enable them.

Tests ask for ports through ``backend`` and for what only some backends can do through the capability
fixtures below (``contracts/support.py`` says which backend has which); none branches on a backend's name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.support import Backend, fake_backend, simulator_backend, snowflake_backend

BACKENDS = ("fake", "simulator", "snowflake")
OFFLINE = ("fake", "simulator")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts")
    group.addoption(
        "--backend",
        default=os.environ.get("CONTRACT_BACKEND", "offline"),
        choices=[*BACKENDS, "offline", "all"],
        help="which backend the port contracts run against (default: offline = fake and simulator)",
    )
    group.addoption(
        "--connection",
        default=os.environ.get("SNOWFLAKE_CONNECTION_NAME"),
        help="connections.toml entry for the snowflake backend (env SNOWFLAKE_CONNECTION_NAME)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend")
        names = {"all": BACKENDS, "offline": OFFLINE}.get(chosen, (chosen,))
        metafunc.parametrize("backend_name", names, scope="session")


@pytest.fixture
def backend(backend_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if backend_name == "fake":
        chosen = fake_backend()
    elif backend_name == "simulator":
        chosen = simulator_backend(tmp_path / "home")
    else:
        connection = request.config.getoption("--connection")
        if not connection:
            pytest.skip(
                "snowflake backend needs a connection: pytest contracts --backend snowflake --connection NAME "
                "(a connections.toml entry) or SNOWFLAKE_CONNECTION_NAME"
            )
        chosen = snowflake_backend(connection)
    try:
        yield chosen
    finally:
        chosen.close()


# --- capability fixtures: each skips, with the reason, on a backend that lacks it ----------------------------


@pytest.fixture
def source_tables(backend: Backend) -> Any:
    return backend.capability("source_tables")


@pytest.fixture
def dataset_rows(backend: Backend) -> Any:
    return backend.capability("dataset_rows")


@pytest.fixture
def training_data(backend: Backend) -> Any:
    return backend.capability("training_data")


@pytest.fixture
def trains_models(backend: Backend) -> None:
    backend.capability("trains_models")


@pytest.fixture
def model_artifacts(backend: Backend) -> Any:
    return backend.capability("model_artifacts")


@pytest.fixture
def scoring(backend: Backend) -> Any:
    return backend.capability("scoring")


@pytest.fixture
def integrations(backend: Backend) -> Any:
    return backend.capability("integrations")


@pytest.fixture
def vendor_warnings(backend: Backend) -> None:
    backend.capability("vendor_warnings")


@pytest.fixture
def long_running_sql(backend: Backend) -> str:
    return str(backend.capability("long_running_sql"))


@pytest.fixture
def task_probes(backend: Backend) -> Any:
    return backend.capability("task_probes")
