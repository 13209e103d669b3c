"""Properties of the retention plan over random registries, dataset listings and lineage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.refs import DatasetRef, DatasetVersionInfo, ModelVersionInfo
from domain.retention import RetentionPlan, base_version, plan_retention

NOW = datetime(2025, 6, 1, tzinfo=UTC)
MODEL, DATASET = "mortgage_model", "mortgage_dataset"
BASES = [f"v{i}" for i in range(6)]
ages = st.integers(0, 20).map(lambda d: NOW - timedelta(days=d, hours=1))


@dataclass(frozen=True)
class World:
    expiry_days: int
    models: list[ModelVersionInfo]
    datasets: list[DatasetVersionInfo]
    lineage: dict[str, list[tuple[str, str]]]

    def plan(self) -> RetentionPlan:
        return plan_retention(
            now=NOW,
            expiry_days=self.expiry_days,
            model_versions=self.models,
            dataset_versions=self.datasets,
            lineage=self.lineage,
        )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    names = draw(st.lists(st.sampled_from([f"m{i}" for i in range(8)]), unique=True, max_size=8))
    default = draw(st.sampled_from([None, *names]))
    models = [
        ModelVersionInfo(
            MODEL,
            name,
            draw(ages),
            is_default=name == default,
            aliases=draw(st.sampled_from([frozenset(), frozenset({"prod"})])),
            dataset=draw(
                st.one_of(
                    st.none(),
                    st.tuples(st.sampled_from(BASES), st.sampled_from(["", "_train", "_test"])).map(
                        lambda t: DatasetRef(DATASET, t[0] + t[1])
                    ),
                )
            ),
        )
        for name in names
    ]
    versions = draw(
        st.lists(
            st.sampled_from([b + s for b in BASES for s in ("", "_train", "_test")]), unique=True, max_size=18
        )
    )
    datasets = [DatasetVersionInfo(DATASET, v, draw(ages)) for v in versions]
    lineage = draw(
        st.dictionaries(
            st.sampled_from(BASES),
            st.lists(
                st.tuples(st.sampled_from([MODEL, "other_model"]), st.sampled_from(names or ["m0"])),
                max_size=2,
            ),
            max_size=4,
        )
    )
    return World(draw(st.integers(0, 15)), models, datasets, lineage)


@given(worlds())
def test_never_deletes_the_default_or_an_aliased_model_version(world: World) -> None:
    deleted = set(world.plan().model_versions)
    assert not any(m.version in deleted for m in world.models if m.is_default or m.aliases)


@given(worlds())
def test_never_deletes_anything_younger_than_the_expiry(world: World) -> None:
    plan, cutoff = world.plan(), NOW - timedelta(days=world.expiry_days)
    assert all(m.created_on < cutoff for m in world.models if m.version in plan.model_versions)
    assert all(d.created_on < cutoff for d in world.datasets if d.version in plan.dataset_versions)


@given(worlds())
def test_never_deletes_a_dataset_version_a_kept_model_version_references(world: World) -> None:
    plan = world.plan()
    kept = {m.version for m in world.models} - set(plan.model_versions)
    referenced = {base_version(m.dataset.version) for m in world.models if m.version in kept and m.dataset}
    # A lineage pair is live when it names a kept version, or a model this listing does not cover.
    referenced |= {v for v, pairs in world.lineage.items() if any(n != MODEL or m in kept for n, m in pairs)}
    assert not any(base_version(v) in referenced for v in plan.dataset_versions)


@given(worlds())
def test_a_dataset_version_goes_with_its_whole_group(world: World) -> None:
    deleted = set(world.plan().dataset_versions)
    for d in world.datasets:
        siblings = {x.version for x in world.datasets if base_version(x.version) == base_version(d.version)}
        assert (d.version in deleted) is siblings.issubset(deleted)


@given(worlds())
def test_planning_again_over_the_survivors_deletes_nothing_more(world: World) -> None:
    plan = world.plan()
    survivors = World(
        world.expiry_days,
        [m for m in world.models if m.version not in plan.model_versions],
        [d for d in world.datasets if d.version not in plan.dataset_versions],
        world.lineage,
    )
    assert survivors.plan().empty
