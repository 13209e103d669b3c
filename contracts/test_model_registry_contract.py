"""ModelRegistry contract (``domain.ports.ModelRegistry``), run against every selected backend."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.support import Backend, unique_name
from domain.errors import AlreadyExists, Conflict, NotFound
from domain.ports import ModelRegistry
from domain.refs import DatasetRef, ModelArtifact


@pytest.fixture
def registry(backend: Backend) -> ModelRegistry:
    return backend.registry()


@pytest.fixture
def artifact(model_artifacts: Any) -> ModelArtifact:
    return model_artifacts.artifact()


@pytest.fixture
def model() -> str:
    return unique_name("MODEL")  # the snowflake backend drops this run's models when it closes


DATASET = DatasetRef(
    "DS", "v1_train", label_cols=("MORTGAGERESPONSE",), exclude_cols=("LOAN_ID", "TIMESTAMP")
)


def log(registry: ModelRegistry, model: str, artifact: ModelArtifact, version: str) -> None:
    registry.log_version(
        model_name=model, version=version, artifact=artifact, metrics={"test_accuracy": 0.8}, dataset=DATASET
    )


def test_the_registry_implements_the_port(registry: ModelRegistry) -> None:
    assert isinstance(registry, ModelRegistry)


def test_the_first_version_is_the_default(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    log(registry, model, artifact, "v1")
    log(registry, model, artifact, "v2")
    default = registry.default_version(model)
    assert default is not None and default.version == "V1"


def test_a_duplicate_version_already_exists(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    log(registry, model, artifact, "v1")
    with pytest.raises(AlreadyExists):
        log(registry, model, artifact, "v1")
    assert len(registry.list_versions(model)) == 1


def test_promotion_moves_default_and_aliases_and_is_idempotent(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    log(registry, model, artifact, "v1")
    log(registry, model, artifact, "v2")
    registry.promote(model, "v2")
    registry.promote(model, "v2")
    versions = {v.version: v for v in registry.list_versions(model)}
    assert versions["V2"].is_default and versions["V2"].aliases == frozenset({"CHAMPION"})
    assert versions["V1"].aliases == frozenset({"PREVIOUS_CHAMPION"})


def aliases_of(registry: ModelRegistry, model: str) -> dict[str, frozenset[str]]:
    return {v.version: v.aliases for v in registry.list_versions(model)}


def test_the_first_promotion_makes_the_first_version_the_champion(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    log(registry, model, artifact, "v1")  # the default already, as the first version

    registry.promote(model, "v1")

    assert aliases_of(registry, model) == {"V1": frozenset({"CHAMPION"})}


def test_the_third_promotion_leaves_one_alias_per_version_at_every_step(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    for version in ("v1", "v2", "v3"):
        log(registry, model, artifact, version)
        registry.promote(model, version)  # as the pipeline does: log, then promote
        assert all(len(held) <= 1 for held in aliases_of(registry, model).values())

    assert aliases_of(registry, model) == {
        "V1": frozenset(),
        "V2": frozenset({"PREVIOUS_CHAMPION"}),
        "V3": frozenset({"CHAMPION"}),
    }
    default = registry.default_version(model)
    assert default is not None and default.version == "V3"


def test_promoting_the_previous_champion_back_swaps_the_aliases(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    for version in ("v1", "v2"):
        log(registry, model, artifact, version)
        registry.promote(model, version)

    registry.promote(model, "v1")

    assert aliases_of(registry, model) == {
        "V1": frozenset({"CHAMPION"}),
        "V2": frozenset({"PREVIOUS_CHAMPION"}),
    }


def test_the_default_version_cannot_be_deleted(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    log(registry, model, artifact, "v1")
    with pytest.raises(Conflict):
        registry.delete_version(model, "v1")


def test_score_returns_unprefixed_metrics(
    registry: ModelRegistry, model: str, artifact: ModelArtifact, scoring: Any
) -> None:
    log(registry, model, artifact, "v1")
    test = scoring.test_dataset()
    assert set(registry.score(model, "v1", test)) >= {"accuracy", "roc_auc", "log_loss"}


def test_an_unknown_model_has_no_versions(registry: ModelRegistry) -> None:
    assert registry.list_versions("NO_SUCH_MODEL_XYZ") == []
    assert registry.default_version("NO_SUCH_MODEL_XYZ") is None
    with pytest.raises(NotFound):
        registry.get_version("NO_SUCH_MODEL_XYZ", "v1")


def test_deleting_a_model_removes_every_version_and_its_default(
    registry: ModelRegistry, model: str, artifact: ModelArtifact
) -> None:
    log(registry, model, artifact, "v1")
    log(registry, model, artifact, "v2")
    registry.promote(model, "v2")

    registry.delete_model(model)

    assert registry.list_versions(model) == [] and registry.default_version(model) is None
    log(registry, model, artifact, "v1")  # the name is free again
    assert registry.default_version(model) is not None


def test_deleting_an_unknown_model_is_not_found(registry: ModelRegistry) -> None:
    with pytest.raises(NotFound):
        registry.delete_model("NO_SUCH_MODEL_XYZ")
