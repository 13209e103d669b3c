"""Contract suites: the same tests for each port, run against every selected backend.

``pytest contracts`` runs the simulator. ``pytest contracts --backend snowflake --connection NAME`` (or
``--backend all``) adds a real account through ``connections.toml``; without a connection the snowflake cases
are skipped with the reason and the way to enable them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

BACKENDS = ("simulator", "snowflake")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts")
    group.addoption(
        "--backend",
        default=os.environ.get("CONTRACT_BACKEND", "simulator"),
        choices=[*BACKENDS, "all"],
        help="which backend the port contracts run against (default: simulator)",
    )
    group.addoption(
        "--connection",
        default=os.environ.get("SNOWFLAKE_CONNECTION_NAME"),
        help="connections.toml entry for the snowflake backend (env SNOWFLAKE_CONNECTION_NAME)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_name" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend")
        names = list(BACKENDS) if chosen == "all" else [chosen]
        metafunc.parametrize("backend_name", names, scope="session")


@dataclass
class Backend:
    """What a contract module needs to build its port on one backend."""

    name: str
    account: Any = None  # adapters.simulator.home.LocalAccount
    session: Any = None  # snowflake.snowpark.Session


@pytest.fixture
def backend(backend_name: str, request: pytest.FixtureRequest) -> Iterator[Backend]:
    if backend_name == "simulator":
        from adapters.simulator.home import LocalAccount

        account = LocalAccount(None)
        try:
            yield Backend("simulator", account=account)
        finally:
            account.close()
        return
    connection = request.config.getoption("--connection")
    if not connection:
        pytest.skip(
            "snowflake backend needs a connection: pytest contracts --backend snowflake --connection NAME "
            "(a connections.toml entry) or SNOWFLAKE_CONNECTION_NAME"
        )
    from snowflake.snowpark import Session

    session = Session.builder.config("connection_name", connection).create()
    try:
        yield Backend("snowflake", session=session)
    finally:
        session.close()
