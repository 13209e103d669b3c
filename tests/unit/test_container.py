"""The container picks every adapter by the one backend key, and builds only the chosen branch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from app.container import build_container
from app.settings import load_settings
from tests.fakes import FakeClock, FakeFeatureStore, FakeJobRunner, FakeModelRegistry, FakeNotifier


def _forbidden(*_: object) -> object:
    raise AssertionError("the other backend was built")


def test_the_simulator_backend_never_opens_a_snowflake_session() -> None:
    c = build_container(load_settings(env={}, backend="simulator"))
    clock = FakeClock()
    fs = FakeFeatureStore(clock)
    c.sim_feature_store.override(providers.Object(fs))
    c.sim_jobs.override(providers.Object(FakeJobRunner()))
    c.sim_registry.override(providers.Object(FakeModelRegistry(clock)))
    c.sim_notifier.override(providers.Object(FakeNotifier()))
    c.session.override(providers.Callable(_forbidden))
    c.sf_feature_store.override(providers.Callable(_forbidden))

    ports = c.ports()

    assert ports.feature_store is fs
    c.shutdown_resources()


def test_the_snowflake_backend_never_creates_a_local_home() -> None:
    c = build_container(load_settings(env={}, backend="snowflake"))
    clock = FakeClock()
    registry = FakeModelRegistry(clock)
    c.account.override(providers.Callable(_forbidden))
    c.sf_feature_store.override(providers.Object(FakeFeatureStore(clock)))
    c.sf_jobs.override(providers.Object(FakeJobRunner()))
    c.sf_registry.override(providers.Object(registry))
    c.sf_notifier.override(providers.Object(FakeNotifier()))

    assert c.ports().registry is registry


class _SessionBuilder:
    """The part of ``Session.builder`` that ``open_session`` uses: ``configs(params).create()``
    (snowflake/snowpark/session.py: ``Session.SessionBuilder.configs`` and ``.create``)."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def configs(self, options: dict[str, Any]) -> _SessionBuilder:
        self.params = dict(options)
        return self

    def create(self) -> _OpenedSession:
        return _OpenedSession()


class _OpenedSession:
    query_tag: str | None = None

    def close(self) -> None:
        """Closing a session that never reached an account has nothing to release."""


def _session_parameters(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    config: str,
    connection: str,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The parameters the snowflake container opens its session with, for a config file and a ``[ci]`` entry."""
    from snowflake.snowpark import Session

    (tmp_path / "connections.toml").write_text(
        f'[ci]\naccount = "acme"\nuser = "bot"\npassword = "pw-1"\n{connection}'
    )
    config_file = tmp_path / "app.toml"
    config_file.write_text(config)
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))
    builder = _SessionBuilder()
    monkeypatch.setattr(Session, "builder", builder)
    c = build_container(
        load_settings(config_file=config_file, env=env or {}, backend="snowflake", connection="ci")
    )
    c.session()
    c.shutdown_resources()
    return builder.params


def test_a_role_in_the_config_file_reaches_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _session_parameters(
        tmp_path, monkeypatch, config='[names]\nrole = "ANALYST"\n', connection='role = "PUBLIC"\n'
    )
    assert params["role"] == "ANALYST"


def test_a_warehouse_from_the_environment_beats_the_connections_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _session_parameters(
        tmp_path,
        monkeypatch,
        config="",
        connection='warehouse = "TINY_WH"\n',
        env={"SNOWFLAKE_WAREHOUSE": "CI_WH"},
    )
    assert params["warehouse"] == "CI_WH"


def test_a_role_from_the_environment_beats_the_connections_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _session_parameters(
        tmp_path,
        monkeypatch,
        config="",
        connection='role = "PUBLIC"\nwarehouse = "W"\n',
        env={"SNOWFLAKE_ROLE": "analyst"},
    )
    assert (params["role"], params["warehouse"]) == ("ANALYST", "W")


def test_object_names_from_the_environment_reach_the_snowflake_adapters() -> None:
    c = build_container(
        load_settings(
            env={"SNOWFLAKE_DATABASE": "CI_DB", "SNOWFLAKE_COMPUTE_POOL": "CI_POOL"}, backend="snowflake"
        )
    )
    names = c.sf_names()
    assert (names.database, names.compute_pool, names.schema) == ("CI_DB", "CI_POOL", "DEV")


def test_without_configured_names_the_connections_role_and_warehouse_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _session_parameters(
        tmp_path,
        monkeypatch,
        config='[names]\ndatabase = "ML"\n',
        connection='role = "PUBLIC"\nwarehouse = "TINY_WH"\n',
    )
    assert (params["role"], params["warehouse"]) == ("PUBLIC", "TINY_WH")


def test_a_connection_without_role_or_warehouse_gets_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    params = _session_parameters(tmp_path, monkeypatch, config="", connection="")
    assert (params["role"], params["warehouse"]) == ("ENGINEER", "DEMO_WH")


def test_doctor_is_chosen_by_the_backend_and_builds_neither_session_nor_home_itself(tmp_path: Path) -> None:
    from adapters.simulator.doctor import SimulatorDoctor
    from adapters.snowflake.doctor import SnowflakeDoctor

    sim = build_container(load_settings(env={}, backend="simulator", home=tmp_path / "home"))
    sim.session.override(providers.Callable(_forbidden))
    sf = build_container(load_settings(env={}, backend="snowflake"))
    sf.account.override(providers.Callable(_forbidden))
    sf.session.override(providers.Callable(_forbidden))

    assert isinstance(sim.doctor(), SimulatorDoctor) and isinstance(sf.doctor(), SnowflakeDoctor)
    assert not (tmp_path / "home").exists()  # the doctor opens the home only when it checks one
    sim.shutdown_resources()
    sf.shutdown_resources()


def test_the_simulators_jobs_run_only_on_pools_the_account_holds(tmp_path: Path) -> None:
    from domain.errors import NotFound

    c = build_container(load_settings(env={}, backend="simulator", home=tmp_path / "home"))
    try:
        with pytest.raises(NotFound, match="CREATE COMPUTE POOL IF NOT EXISTS DEMO_POOL"):
            c.sim_jobs().submit_function(len, args=("x",), compute_pool="DEMO_POOL")
    finally:
        c.shutdown_resources()


def test_the_local_scheduler_on_snowflake_is_unsupported_and_says_who_schedules() -> None:
    from domain.errors import Unsupported

    c = build_container(load_settings(env={}, backend="snowflake"))
    c.session.override(providers.Callable(_forbidden))
    c.account.override(providers.Callable(_forbidden))

    with pytest.raises(Unsupported, match="Snowflake schedules graphs itself"):
        c.local_scheduler()


def test_a_snowflake_account_is_never_new_and_reports_no_live_states_without_a_session() -> None:
    c = build_container(load_settings(env={}, backend="snowflake"))
    c.session.override(providers.Callable(_forbidden))
    c.account.override(providers.Callable(_forbidden))

    assert (c.new_home(), c.live_task_states(), c.run_lives_in_process()) == (None, None, False)


def test_a_new_simulator_home_is_named_for_setup_and_its_runs_report_live_states(tmp_path: Path) -> None:
    c = build_container(load_settings(env={}, backend="simulator", home=tmp_path / "home"))
    c.session.override(providers.Callable(_forbidden))
    try:
        assert c.new_home() == tmp_path / "home"
        assert callable(c.live_task_states())
        assert c.run_lives_in_process() is True
    finally:
        c.shutdown_resources()


def test_the_simulators_plan_is_offline_and_the_snowflake_plan_compares_on_its_session() -> None:
    sim = build_container(load_settings(env={}, backend="simulator"))
    sim.account.override(providers.Callable(_forbidden))
    sim.session.override(providers.Callable(_forbidden))
    sf = build_container(load_settings(env={}, backend="snowflake"))
    sf.session.override(providers.Callable(_forbidden))  # the plan opens the session only to compare

    assert (sim.deploy_plan().can_compare, sf.deploy_plan().can_compare) == (False, True)


def test_the_deployed_tasks_and_the_cli_build_their_ports_with_one_function() -> None:
    from app import composition, snowflake_tasks

    c = build_container(load_settings(env={}, backend="snowflake"))
    assert c.sf_ports.provides is composition.snowflake_ports
    assert snowflake_tasks.snowflake_ports is composition.snowflake_ports
