"""Dropping a version and setting the default by hand (``models --drop`` / ``--set-default``)."""

from __future__ import annotations

import pytest

from domain.errors import Conflict, NotFound
from domain.model_admin import drop_version, set_default
from domain.refs import DatasetRef, ModelArtifact
from tests.fakes import FakeClock, FakeModelRegistry

DATASET = DatasetRef("D", "v1")


@pytest.fixture
def registry() -> FakeModelRegistry:
    """Three versions of M logged a day apart, each promoted in turn: V3 default, V2 PREVIOUS_CHAMPION."""
    clock = FakeClock()
    registry = FakeModelRegistry(clock)
    for version in ("v1", "v2", "v3"):
        registry.log_version(
            model_name="m", version=version, artifact=ModelArtifact("mem://x"), metrics={}, dataset=DATASET
        )
        registry.promote("m", version)
        clock.advance(days=1)
    return registry


def test_the_default_version_is_not_dropped_without_force(registry: FakeModelRegistry) -> None:
    with pytest.raises(
        Conflict, match=r"M version V3 is the default version: .*--set-default.*--drop V3 --force"
    ):
        drop_version(registry, "m", "v3")
    assert [v.version for v in registry.list_versions("m")] == ["V1", "V2", "V3"]


def test_an_aliased_version_is_not_dropped_without_force(registry: FakeModelRegistry) -> None:
    with pytest.raises(Conflict, match="M version V2 is aliased PREVIOUS_CHAMPION"):
        drop_version(registry, "m", "v2")


def test_a_plain_version_is_dropped_and_the_default_is_named(registry: FakeModelRegistry) -> None:
    assert drop_version(registry, "m", "v1") == "Dropped M version V1; the default version is V3."
    assert [v.version for v in registry.list_versions("m")] == ["V2", "V3"]


def test_forcing_the_default_out_makes_the_newest_other_version_the_default(
    registry: FakeModelRegistry,
) -> None:
    assert drop_version(registry, "m", "v3", force=True) == "Dropped M version V3; the default version is V2."
    assert [v.version for v in registry.list_versions("m")] == ["V1", "V2"]
    assert registry.aliases == {("M", "CHAMPION"): "V2"}


def test_forcing_out_the_only_version_drops_the_model(registry: FakeModelRegistry) -> None:
    for version in ("v1", "v2"):
        drop_version(registry, "m", version, force=True)

    assert "and with it the model" in drop_version(registry, "m", "v3", force=True)
    assert registry.list_versions("m") == [] and registry.default_version("m") is None


def test_set_default_moves_the_default_and_the_champion(registry: FakeModelRegistry) -> None:
    assert set_default(registry, "m", "v1") == "M version V1 is now the default version."
    assert registry.aliases == {("M", "CHAMPION"): "V1", ("M", "PREVIOUS_CHAMPION"): "V3"}


def test_an_unknown_version_is_not_found(registry: FakeModelRegistry) -> None:
    with pytest.raises(NotFound):
        drop_version(registry, "m", "v9")
