"""Retention: which model and dataset versions cleanup deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidConfig
from domain.refs import DatasetRef, DatasetVersionInfo, ModelVersionInfo
from domain.retention import RetentionPlan, plan_retention

NOW = datetime(2025, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=30)
NEW = NOW - timedelta(days=1)


def model(version: str, created: datetime = OLD, **kw: object) -> ModelVersionInfo:
    return ModelVersionInfo("mortgage_model", version, created, **kw)  # type: ignore[arg-type]


def datasets(base: str, created: datetime = OLD) -> list[DatasetVersionInfo]:
    return [DatasetVersionInfo("mortgage_dataset", base + s, created) for s in ("", "_train", "_test")]


def plan(models: list[ModelVersionInfo], data: list[DatasetVersionInfo] = (), **kw: object) -> RetentionPlan:  # type: ignore[assignment]
    return plan_retention(now=NOW, expiry_days=7, model_versions=models, dataset_versions=data, **kw)  # type: ignore[arg-type]


def test_old_model_version_without_default_or_alias_is_deleted() -> None:
    assert plan([model("v1")]).model_versions == ("v1",)


def test_default_aliased_and_young_model_versions_are_kept() -> None:
    kept = [model("d", is_default=True), model("a", aliases=frozenset({"prod"})), model("y", NEW)]
    assert plan(kept).model_versions == ()


def test_old_unreferenced_dataset_version_goes_with_its_splits() -> None:
    assert plan([], datasets("v1")).dataset_versions == ("v1", "v1_train", "v1_test")


def test_dataset_referenced_by_a_kept_model_version_is_kept() -> None:
    champion = model("m1", is_default=True, dataset=DatasetRef("mortgage_dataset", "v1_train"))
    assert plan([champion], datasets("v1")).dataset_versions == ()


def test_dataset_referenced_only_by_a_deleted_model_version_is_deleted() -> None:
    expired = model("m1", dataset=DatasetRef("mortgage_dataset", "v1"))
    result = plan([expired], datasets("v1"))
    assert result.model_versions == ("m1",)
    assert result.dataset_versions == ("v1", "v1_train", "v1_test")


def test_lineage_to_a_kept_model_version_keeps_the_dataset() -> None:
    result = plan([model("m1", is_default=True)], datasets("v1"), lineage={"v1": [("mortgage_model", "m1")]})
    assert result.dataset_versions == ()


def test_lineage_to_a_model_version_that_no_longer_exists_does_not_keep_data() -> None:
    result = plan(
        [model("m2", is_default=True)], datasets("v1"), lineage={"v1": [("mortgage_model", "gone")]}
    )
    assert result.dataset_versions == ("v1", "v1_train", "v1_test")


def test_lineage_to_another_model_keeps_the_dataset() -> None:
    assert plan([], datasets("v1"), lineage={"v1": [("other_model", "x")]}).dataset_versions == ()


def test_a_young_split_keeps_its_whole_group() -> None:
    group = [*datasets("v1")[:2], DatasetVersionInfo("mortgage_dataset", "v1_test", NEW)]
    assert plan([], group).dataset_versions == ()


def test_orphan_split_versions_follow_the_age_rule() -> None:
    orphans = [
        DatasetVersionInfo("mortgage_dataset", "v0_test", OLD),
        DatasetVersionInfo("mortgage_dataset", "v9_train", NEW),
    ]
    assert plan([], orphans).dataset_versions == ("v0_test",)


def test_zero_expiry_deletes_everything_older_than_now() -> None:
    result = plan_retention(now=NOW, expiry_days=0, model_versions=[model("v1", NEW)], dataset_versions=[])
    assert result.model_versions == ("v1",)


def test_nothing_to_clean_gives_an_empty_plan() -> None:
    assert plan([]).empty


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(InvalidConfig, match="time zone"):
        plan_retention(now=datetime(2025, 1, 1), expiry_days=7, model_versions=[], dataset_versions=[])
    with pytest.raises(InvalidConfig, match="created_on"):
        plan([model("v1", datetime(2025, 1, 1))])


def test_negative_expiry_is_rejected() -> None:
    with pytest.raises(InvalidConfig, match="expiry_days=-1"):
        plan_retention(now=NOW, expiry_days=-1, model_versions=[], dataset_versions=[])
