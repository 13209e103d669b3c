"""Which model and dataset versions cleanup deletes.

A model version goes when it is older than the expiry, not the default and has no alias. A dataset version
goes together with its ``_train`` and ``_test`` splits, as one group, when every member of the group is older
than the expiry and no model version that is kept references the group — through its own dataset reference
or through the feature store's lineage. Split versions whose base version is gone form a group of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import InvalidConfig, InvalidName
from domain.names import normalize_qualified
from domain.refs import DatasetVersionInfo, ModelVersionInfo

SPLIT_SUFFIXES = ("_train", "_test")


@dataclass(frozen=True)
class RetentionPlan:
    """Version names to delete: model versions, and dataset versions (base versions with their splits)."""

    model_versions: tuple[str, ...]
    dataset_versions: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.model_versions and not self.dataset_versions


def base_version(version: str) -> str:
    """``v1_train`` and ``v1_test`` belong to ``v1``."""
    for suffix in SPLIT_SUFFIXES:
        if version.endswith(suffix):
            return version[: -len(suffix)]
    return version


def _object_name(name: str) -> str:
    """The last part of a possibly qualified name, resolved as Snowflake does, for comparing references."""
    try:
        return normalize_qualified(name)[-1]
    except InvalidName:
        return name


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidConfig(f"{what} {value.isoformat()} has no time zone; retention needs aware (UTC) times")


def plan_retention(
    *,
    now: datetime,
    expiry_days: int,
    model_versions: Sequence[ModelVersionInfo],
    dataset_versions: Sequence[DatasetVersionInfo],
    lineage: Mapping[str, Collection[tuple[str, str]]] | None = None,
) -> RetentionPlan:
    """Plan deletions; ``expiry_days=0`` means everything older than ``now`` may go.

    ``lineage`` maps a dataset version to the ``(model_name, version)`` pairs whose lineage points at it. A
    pair counts as a live reference unless it names a model version deleted by this plan or one that no longer
    exists among ``model_versions`` of a listed model (a stale lineage row must not keep data forever).
    """
    if isinstance(expiry_days, bool) or not isinstance(expiry_days, int) or expiry_days < 0:
        raise InvalidConfig(f"expiry_days={expiry_days!r} must be a whole number of days >= 0")
    _require_aware(now, "now")
    for mv in model_versions:
        _require_aware(mv.created_on, f"model version {mv.model_name} {mv.version} created_on")
    for dv in dataset_versions:
        _require_aware(dv.created_on, f"dataset version {dv.name} {dv.version} created_on")
    cutoff = now - timedelta(days=expiry_days)

    deleted_models = [
        mv for mv in model_versions if mv.created_on < cutoff and not mv.is_default and not mv.aliases
    ]
    deleted_pairs = {(_object_name(mv.model_name), mv.version) for mv in deleted_models}
    kept = [mv for mv in model_versions if (_object_name(mv.model_name), mv.version) not in deleted_pairs]
    kept_pairs = {(_object_name(mv.model_name), mv.version) for mv in kept}
    listed_models = {_object_name(mv.model_name) for mv in model_versions}

    referenced = {
        (_object_name(mv.dataset.name), base_version(mv.dataset.version))
        for mv in kept
        if mv.dataset is not None
    }
    dataset_names = {_object_name(dv.name) for dv in dataset_versions}
    for version, pairs in (lineage or {}).items():
        live = any(
            (_object_name(model), v) in kept_pairs or _object_name(model) not in listed_models
            for model, v in pairs
        )
        if live:
            referenced.update((name, base_version(version)) for name in dataset_names)

    groups: dict[tuple[str, str], list[DatasetVersionInfo]] = {}
    for dv in dataset_versions:
        groups.setdefault((_object_name(dv.name), base_version(dv.version)), []).append(dv)
    deleted_datasets = [
        dv.version
        for group, members in groups.items()
        if group not in referenced and all(dv.created_on < cutoff for dv in members)
        for dv in members
    ]
    return RetentionPlan(
        model_versions=tuple(mv.version for mv in deleted_models),
        dataset_versions=tuple(deleted_datasets),
    )
