"""Dataset versions in the simulator: Parquet layout, catalog, atomic writes, split, list/delete, lineage."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.simulator.account.folders import dataset_dir
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.feature_store import datasets
from adapters.simulator.feature_store.data_generator import generate_mortgage_data
from adapters.simulator.feature_store.source_tables import load_source_table
from adapters.simulator.feature_store.store import SimFeatureStore
from domain.errors import AlreadyExists, InvalidConfig, InvalidData, InvalidName, NotFound
from domain.features import split_bucket
from domain.refs import DatasetRef, DatasetSplits, FeatureViewRef

TABLE = "MORTGAGE_LENDING_DEMO_DATA"
ALL_COLUMNS = [
    "LOAN_ID", "TIMESTAMP", "MORTGAGERESPONSE", "MONTH", "DAY_OF_YEAR", "DOTW", "LOAN_AMOUNT", "INCOME",
    "INCOME_LOAN_RATIO", "MEAN_COUNTY_INCOME", "HIGH_INCOME_FLAG", "AVG_THIRTY_DAY_LOAN_AMOUNT",
    "LOAN_PURPOSE_ENCODED",
]  # fmt: skip


@pytest.fixture
def store(account: LocalAccount) -> SimFeatureStore:
    load_source_table(account, TABLE, generate_mortgage_data(1_000, seed=5))
    return SimFeatureStore(account)


def _generate(store: SimFeatureStore, name: str = "mortgage_dataset") -> DatasetRef:
    version = store.source_version(TABLE)
    view = store.ensure_feature_view(TABLE, version)
    return store.generate_dataset(name, version, source_table=TABLE, feature_view=view)


def test_a_version_is_parquet_in_the_agreed_folder_with_every_column(
    account: LocalAccount, store: SimFeatureStore
) -> None:
    ref = _generate(store)
    folder = account.files / "datasets" / "MORTGAGE_DATASET" / ref.version
    assert datasets.dataset_files(account, ref) == sorted(folder.glob("*.parquet"))
    frame = datasets.read_dataset(account, ref)
    assert list(frame.columns) == ALL_COLUMNS and len(frame) == 1_000


def test_labels_and_excluded_columns_are_recorded(store: SimFeatureStore) -> None:
    ref = _generate(store)
    assert ref.label_cols == ("MORTGAGERESPONSE",)
    assert ref.exclude_cols == ("TIMESTAMP", "LOAN_ID")  # keys and timestamps are never features
    assert store.get_dataset("MORTGAGE_DATASET", ref.version) == ref


def test_read_dataset_can_pick_columns(account: LocalAccount, store: SimFeatureStore) -> None:
    ref = _generate(store)
    assert list(datasets.read_dataset(account, ref, columns=["INCOME", "LOAN_ID"]).columns) == [
        "INCOME",
        "LOAN_ID",
    ]


def test_an_existing_version_cannot_be_created_again(store: SimFeatureStore) -> None:
    ref = _generate(store)
    view = FeatureViewRef("MORTGAGE_FEATURE_VIEW", ref.version)
    with pytest.raises(AlreadyExists, match=ref.version):
        store.generate_dataset(ref.name, ref.version, source_table=TABLE, feature_view=view)


def test_a_failed_write_leaves_no_files_and_no_catalog_row(
    account: LocalAccount, store: SimFeatureStore
) -> None:
    with pytest.raises(InvalidData, match="boom"):
        datasets.create_versions(
            account, "broken", [datasets.NewVersion("v1", "select error('boom') as X")],
            label_cols=(), exclude_cols=(), key_cols=(), source_query="",
        )  # fmt: skip
    assert store.list_dataset_versions("broken") == []
    assert not any((account.files / "datasets" / "BROKEN").glob("*/*"))


def test_an_unregistered_feature_view_is_not_found(store: SimFeatureStore) -> None:
    with pytest.raises(NotFound, match="MORTGAGE_FEATURE_VIEW"):
        store.generate_dataset(
            "d", "v1", source_table=TABLE, feature_view=FeatureViewRef("MORTGAGE_FEATURE_VIEW", "v1")
        )


def test_split_writes_train_and_test_versions_with_comments(store: SimFeatureStore) -> None:
    splits = store.split_dataset(_generate(store), test_fraction=0.2)
    v = splits.full.version
    assert (splits.train.version, splits.test.version) == (f"{v}_train", f"{v}_test")
    listed = {i.version: i for i in store.list_dataset_versions("MORTGAGE_DATASET")}
    assert listed[f"{v}_train"].comment == f"Training split for {v}"
    assert listed[f"{v}_test"].comment == f"Testing split for {v}"
    assert listed[f"{v}_train"].row_count + listed[f"{v}_test"].row_count == listed[v].row_count == 1_000
    assert 120 < listed[f"{v}_test"].row_count < 280


def test_split_follows_the_stable_key_hash(account: LocalAccount, store: SimFeatureStore) -> None:
    splits = store.split_dataset(_generate(store), test_fraction=0.3)
    test_keys = set(datasets.read_dataset(account, splits.test, columns=["LOAN_ID"])["LOAN_ID"])
    assert test_keys == {k for k in range(1, 1_001) if split_bucket(k) < 0.3}


def test_the_same_key_lands_in_the_same_split_for_every_data_version(
    account: LocalAccount, store: SimFeatureStore
) -> None:
    first = store.split_dataset(_generate(store), test_fraction=0.25)
    load_source_table(account, TABLE, generate_mortgage_data(600, seed=9), replace=True)
    second = store.split_dataset(_generate(store), test_fraction=0.25)
    keys = {
        s: set(datasets.read_dataset(account, s, columns=["LOAN_ID"])["LOAN_ID"])
        for s in (first.test, second.test)
    }
    assert keys[second.test] == {k for k in keys[first.test] if k <= 600}


def test_splitting_twice_raises_already_exists(store: SimFeatureStore) -> None:
    ref = _generate(store)
    store.split_dataset(ref, test_fraction=0.2)
    with pytest.raises(AlreadyExists):
        store.split_dataset(ref, test_fraction=0.2)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, True])
def test_a_test_fraction_outside_zero_one_is_refused(store: SimFeatureStore, fraction: float) -> None:
    with pytest.raises(InvalidConfig, match="test_fraction"):
        store.split_dataset(_generate(store), test_fraction=fraction)


def test_listing_an_unknown_dataset_is_empty(store: SimFeatureStore) -> None:
    assert store.list_dataset_versions("nothing_here") == []


def test_list_is_sorted_by_version_with_created_on_and_rows(store: SimFeatureStore) -> None:
    ref = _generate(store)
    store.split_dataset(ref, test_fraction=0.5)
    listed = store.list_dataset_versions("mortgage_dataset")
    assert [i.version for i in listed] == sorted([ref.version, f"{ref.version}_train", f"{ref.version}_test"])
    assert all(i.created_on is not None and i.row_count for i in listed)


def test_delete_removes_the_files_and_the_catalog_row(account: LocalAccount, store: SimFeatureStore) -> None:
    ref = _generate(store)
    folder = datasets.dataset_files(account, ref)[0].parent
    store.delete_dataset_version(ref.name, ref.version)
    assert not folder.exists()
    assert store.list_dataset_versions(ref.name) == []
    with pytest.raises(NotFound):
        store.get_dataset(ref.name, ref.version)


def test_deleting_an_unknown_version_is_not_found(store: SimFeatureStore) -> None:
    with pytest.raises(NotFound, match="v404"):
        store.delete_dataset_version("mortgage_dataset", "v404")


def test_a_deleted_version_can_be_created_again(store: SimFeatureStore) -> None:
    ref = _generate(store)
    store.delete_dataset_version(ref.name, ref.version)
    view = FeatureViewRef("MORTGAGE_FEATURE_VIEW", ref.version)
    assert store.generate_dataset(ref.name, ref.version, source_table=TABLE, feature_view=view) == ref


def test_downstream_models_read_the_registrys_lineage(account: LocalAccount, store: SimFeatureStore) -> None:
    ref = _generate(store)
    with account.cursor() as cur:
        cur.execute(datasets.LINEAGE_DDL)
        cur.execute(
            "insert into REGISTRY_LINEAGE values ('MORTGAGE_MODEL', 'v2', ?, ?), ('MORTGAGE_MODEL', 'v1', ?, ?), "
            "('OTHER', 'v1', ?, 'elsewhere')",
            [ref.name, ref.version, ref.name, ref.version, ref.name],
        )
    assert store.downstream_models("mortgage_dataset", ref.version) == [
        ("MORTGAGE_MODEL", "v1"),
        ("MORTGAGE_MODEL", "v2"),
    ]
    assert store.downstream_models("mortgage_dataset", "unused") == []


@pytest.mark.parametrize("name", ['x"; drop table t; --', "", "1abc"])
def test_invalid_dataset_names_are_refused(store: SimFeatureStore, name: str) -> None:
    with pytest.raises(InvalidName):
        store.list_dataset_versions(name)


def test_invalid_versions_are_refused(store: SimFeatureStore) -> None:
    view = store.ensure_feature_view(TABLE, store.source_version(TABLE))
    with pytest.raises(InvalidName):
        store.generate_dataset("d", "../escape", source_table=TABLE, feature_view=view)


def _prepare(store: SimFeatureStore) -> DatasetSplits:
    from domain import pipeline
    from domain.config import PipelineConfig, RunConfig
    from tests.fakes import FakeClock, FakeJobRunner, FakeModelRegistry, FakeNotifier

    clock = FakeClock()
    ports = pipeline.Ports(store, FakeJobRunner(), FakeModelRegistry(clock), FakeNotifier(), clock)
    return pipeline.prepare_data(ports, RunConfig.from_graph(PipelineConfig().to_mapping(), clock()))


def _part(account: LocalAccount, ref: DatasetRef) -> Path:
    return dataset_dir(account.files, ref.name, ref.version) / "part-0.parquet"


DAMAGE = {
    "missing": lambda f: f.unlink(),
    "truncated": lambda f: f.write_bytes(f.read_bytes()[:100]),
    "overwritten footer": lambda f: f.write_bytes(f.read_bytes()[:-40] + b"\0" * 40),
    "empty": lambda f: f.write_bytes(b""),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_split_file_is_named_with_the_repair(
    account: LocalAccount, store: SimFeatureStore, damage: str
) -> None:
    splits = store.split_dataset(_generate(store), test_fraction=0.2)
    part = _part(account, splits.train)
    DAMAGE[damage](part)

    with pytest.raises(InvalidData, match="--force-refresh") as err:
        store.get_dataset(splits.train.name, splits.train.version)
    assert str(part.parent) in str(err.value)


def test_a_split_with_rows_other_than_its_catalog_says_is_refused(
    account: LocalAccount, store: SimFeatureStore
) -> None:
    splits = store.split_dataset(_generate(store), test_fraction=0.2)
    other = _part(account, splits.test)
    _part(account, splits.train).write_bytes(other.read_bytes())  # a valid Parquet file of the wrong rows

    with pytest.raises(InvalidData, match="rows"):
        store.get_dataset(splits.train.name, splits.train.version)


@pytest.mark.parametrize("which", ["train", "test", "full"])
def test_prepare_data_rebuilds_a_damaged_version_it_would_reuse(
    account: LocalAccount, store: SimFeatureStore, which: str
) -> None:
    first = _prepare(store)
    rows = {v.version: v.row_count for v in store.list_dataset_versions(first.full.name)}
    _part(account, getattr(first, which)).write_bytes(b"not parquet")

    again = _prepare(store)

    assert again == first
    for ref in (again.full, again.train, again.test):
        assert len(datasets.read_dataset(account, ref)) == rows[ref.version]
