"""The FeatureStore port's contract (``domain.ports.FeatureStore``), run against every selected backend.

Each test loads a tiny hand-made source table whose answers are known, under names unique to the test so the
suite can run against a shared real account. Tests that read rows back need the ``dataset_rows`` capability.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from contracts.support import Backend, unique_name
from domain.errors import AlreadyExists, InvalidName, NotFound
from domain.ports import FeatureStore
from domain.refs import DatasetRef

COLUMNS = ["LOAN_ID", "TS", "LOAN_TYPE_NAME", "LOAN_PURPOSE_NAME", "COUNTY_NAME", "LOAN_AMOUNT_000s",
           "APPLICANT_INCOME_000s", "MORTGAGERESPONSE"]  # fmt: skip


def loans(rows: list[tuple[int, str, float]]) -> pd.DataFrame:
    """Rows of (LOAN_ID, TS, LOAN_AMOUNT_000s); the other columns get plain values."""
    return pd.DataFrame(
        [(k, pd.Timestamp(ts), "Conventional", "Home purchase", "Kings County", amount, 80.0, k % 2)
         for k, ts, amount in rows],
        columns=COLUMNS,
    )  # fmt: skip


MANY = loans([(k, f"2024-01-{1 + k % 28:02d} 08:00:00", 100.0 + k) for k in range(1, 201)])


@dataclass
class Harness:
    store: FeatureStore
    tables: Any  # the source_tables capability: load(table, frame) creates or replaces a source table
    name: str  # unique to the test: for its tables and datasets

    def load(self, table: str, frame: pd.DataFrame) -> None:
        self.tables.load(table, frame)


@pytest.fixture
def fs(backend: Backend, source_tables: Any) -> Harness:
    return Harness(backend.feature_store(), source_tables, unique_name("FS"))


@pytest.fixture
def store(backend: Backend) -> FeatureStore:
    """The port alone, for tests that need no source data."""
    return backend.feature_store()


def _dataset(fs: Harness, frame: pd.DataFrame = MANY) -> DatasetRef:
    fs.load(fs.name, frame)
    version = fs.store.source_version(fs.name)
    view = fs.store.ensure_feature_view(fs.name, version)
    return fs.store.generate_dataset(fs.name, version, source_table=fs.name, feature_view=view)


def test_source_version_is_a_timestamp_version(fs: Harness) -> None:
    fs.load(fs.name, MANY)
    assert re.fullmatch(r"v\d{8}_\d{6}", fs.store.source_version(fs.name))


def test_source_version_of_a_missing_table_is_not_found(store: FeatureStore) -> None:
    with pytest.raises(NotFound):
        store.source_version(unique_name("MISSING"))


def test_ensuring_a_feature_view_twice_returns_the_same_view(fs: Harness) -> None:
    fs.load(fs.name, MANY)
    version = fs.store.source_version(fs.name)
    first = fs.store.ensure_feature_view(fs.name, version)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the vendor's "already exists" (pinned below)
        assert fs.store.ensure_feature_view(fs.name, version) == first


def test_ensuring_an_existing_feature_view_warns_as_snowflake_ml_does(
    fs: Harness, vendor_warnings: None
) -> None:
    fs.load(fs.name, MANY)
    version = fs.store.source_version(fs.name)
    fs.store.ensure_feature_view(fs.name, version)
    with pytest.warns(UserWarning):
        fs.store.ensure_feature_view(fs.name, version)


def test_point_in_time_join_takes_the_latest_feature_row_at_or_before_each_spine_row(
    fs: Harness, dataset_rows: Any
) -> None:
    fs.load(fs.name, loans([(1, "2024-01-10", 100.0), (1, "2024-02-10", 200.0), (2, "2024-01-15", 300.0)]))
    old = fs.store.ensure_feature_view(fs.name, fs.store.source_version(fs.name))
    spine = [(1, "2024-01-05", 1.0), (1, "2024-01-10", 2.0), (1, "2024-01-31", 3.0), (1, "2024-03-01", 4.0),
             (2, "2024-01-14", 5.0), (3, "2024-02-01", 6.0)]  # fmt: skip
    fs.load(fs.name, loans(spine))
    ref = fs.store.generate_dataset(fs.name, "pit", source_table=fs.name, feature_view=old)
    rows = dataset_rows.rows(ref)
    got = {
        (int(r.LOAN_ID), pd.Timestamp(r.TIMESTAMP).strftime("%Y-%m-%d")): r.LOAN_AMOUNT
        for r in rows.itertuples(index=False)
    }
    assert len(rows) == len(spine)  # unmatched spine rows are kept
    assert got[(1, "2024-01-10")] == 100_000  # equal timestamps match
    assert got[(1, "2024-01-31")] == 100_000
    assert got[(1, "2024-03-01")] == 200_000
    assert all(pd.isna(got[k]) for k in [(1, "2024-01-05"), (2, "2024-01-14"), (3, "2024-02-01")])


def test_a_dataset_records_its_label_and_excluded_columns(fs: Harness) -> None:
    ref = _dataset(fs)
    assert ref.label_cols == ("MORTGAGERESPONSE",)
    assert {"TIMESTAMP", "LOAN_ID"} <= set(ref.exclude_cols)


def test_a_dataset_holds_the_label_key_timestamp_and_feature_columns(fs: Harness, dataset_rows: Any) -> None:
    ref = _dataset(fs)
    assert {"MORTGAGERESPONSE", "TIMESTAMP", "LOAN_ID", "LOAN_AMOUNT"} <= set(dataset_rows.rows(ref).columns)


def test_an_existing_version_is_immutable(fs: Harness, dataset_rows: Any) -> None:
    ref = _dataset(fs)
    before = dataset_rows.rows(ref)
    fs.load(fs.name, MANY.head(10))
    view = fs.store.ensure_feature_view(fs.name, fs.store.source_version(fs.name))
    with pytest.raises(AlreadyExists):
        fs.store.generate_dataset(ref.name, ref.version, source_table=fs.name, feature_view=view)
    assert len(dataset_rows.rows(fs.store.get_dataset(ref.name, ref.version))) == len(before) == 200


def test_split_is_deterministic_by_key_and_complete(fs: Harness, dataset_rows: Any) -> None:
    ref = _dataset(fs)
    splits = fs.store.split_dataset(ref, test_fraction=0.25)
    assert (splits.train.version, splits.test.version) == (f"{ref.version}_train", f"{ref.version}_test")
    train, test = (set(dataset_rows.rows(s)["LOAN_ID"]) for s in (splits.train, splits.test))
    assert train.isdisjoint(test) and train | test == set(range(1, 201))


def test_the_same_key_lands_in_the_same_split_for_another_data_version(
    fs: Harness, dataset_rows: Any
) -> None:
    first = fs.store.split_dataset(_dataset(fs), test_fraction=0.3)
    shifted = MANY.assign(TS=MANY["TS"] + pd.Timedelta(days=40))
    second = fs.store.split_dataset(_dataset(fs, shifted), test_fraction=0.3)
    assert set(dataset_rows.rows(first.test)["LOAN_ID"]) == set(dataset_rows.rows(second.test)["LOAN_ID"])


def test_splitting_again_raises_already_exists(fs: Harness) -> None:
    ref = _dataset(fs)
    fs.store.split_dataset(ref, test_fraction=0.2)
    with pytest.raises(AlreadyExists):
        fs.store.split_dataset(ref, test_fraction=0.2)


def test_list_and_delete_versions(fs: Harness) -> None:
    ref = _dataset(fs)
    fs.store.split_dataset(ref, test_fraction=0.2)
    listed = fs.store.list_dataset_versions(ref.name)
    assert {i.version for i in listed} == {ref.version, f"{ref.version}_train", f"{ref.version}_test"}
    assert all(i.created_on.utcoffset() == timedelta(0) for i in listed)  # aware UTC, comparable with now
    assert all(abs(datetime.now(UTC) - i.created_on) < timedelta(hours=1) for i in listed)
    fs.store.delete_dataset_version(ref.name, f"{ref.version}_test")
    assert {i.version for i in fs.store.list_dataset_versions(ref.name)} == {
        ref.version,
        f"{ref.version}_train",
    }
    with pytest.raises(NotFound):
        fs.store.get_dataset(ref.name, f"{ref.version}_test")


def test_unknown_datasets_and_versions(store: FeatureStore) -> None:
    name = unique_name("NONE")
    assert store.list_dataset_versions(name) == []
    with pytest.raises(NotFound):
        store.get_dataset(name, "v1")
    with pytest.raises(NotFound):
        store.delete_dataset_version(name, "v1")


def test_a_new_dataset_has_no_downstream_models(fs: Harness) -> None:
    ref = _dataset(fs)
    assert fs.store.downstream_models(ref.name, ref.version) == []


@pytest.mark.parametrize("bad", ['x"; drop table t; --', "a b", ""])
def test_invalid_names_are_refused(store: FeatureStore, bad: str) -> None:
    with pytest.raises(InvalidName):
        store.source_version(bad)
    with pytest.raises(InvalidName):
        store.list_dataset_versions(bad)
