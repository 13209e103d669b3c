"""The container picks every adapter by the one backend key, and builds only the chosen branch."""

from __future__ import annotations

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
