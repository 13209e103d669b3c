"""Source tables and the guide's feature view in the simulator: validation, data versions, feature values."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from adapters.simulator.account.home import LocalAccount, stored_tables
from adapters.simulator.feature_store.source_tables import describe_table, load_source_table
from adapters.simulator.feature_store.store import SimFeatureStore
from domain.errors import AlreadyExists, InvalidConfig, InvalidData, InvalidName, NotFound
from domain.ports import FeatureStore

TABLE = "LOANS"


def loans(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (LOAN_ID, TS, purpose, county, loan_000s, income_000s, label)."""
    return pd.DataFrame(
        rows,
        columns=["LOAN_ID", "TS", "LOAN_PURPOSE_NAME", "COUNTY_NAME", "LOAN_AMOUNT_000s",
                 "APPLICANT_INCOME_000s", "MORTGAGERESPONSE"],
    )  # fmt: skip


SAMPLE = loans(
    [
        (1, "2024-01-07 10:00:00.000", "Refinancing", "Kings County", 100.0, 50.0, 1),  # a Sunday
        (2, "2024-01-20 10:00:00.000", "Home purchase", "Kings County", 300.0, 150.0, 0),
        (3, "2024-03-01 10:00:00.000", "Home improvement", "Kings County", 200.0, None, 1),
        (4, "2024-02-14 12:30:00.500", None, "Erie County", 50.0, 20.0, 1),
    ]
)


@pytest.fixture
def store(account: LocalAccount) -> SimFeatureStore:
    load_source_table(account, TABLE, SAMPLE)
    return SimFeatureStore(account)


def _features(account: LocalAccount, store: SimFeatureStore) -> pd.DataFrame:
    ref = store.ensure_feature_view(TABLE, store.source_version(TABLE))
    with account.cursor() as cur:
        return (
            cur.execute(f'select * from SNOWBANK.DATA."{ref.name}${ref.version}" order by LOAN_ID')
            .df()
            .set_index("LOAN_ID")
        )


def _catalog_tables(account: LocalAccount) -> set[str]:
    with account.cursor() as cur:
        return {name for _, _, name, _ in stored_tables(cur)}


def test_sim_feature_store_satisfies_the_port(store: SimFeatureStore) -> None:
    assert isinstance(store, FeatureStore)


def test_source_version_is_the_last_altered_time(account: LocalAccount, store: SimFeatureStore) -> None:
    info = describe_table(account, TABLE)
    assert store.source_version(TABLE) == info.last_altered.strftime("v%Y%m%d_%H%M%S")


def test_source_version_of_a_missing_table_is_not_found(store: SimFeatureStore) -> None:
    with pytest.raises(NotFound, match="NOPE"):
        store.source_version("nope")


def test_reloading_a_table_gives_a_new_data_version(account: LocalAccount, store: SimFeatureStore) -> None:
    before = store.source_version(TABLE)
    load_source_table(account, TABLE, SAMPLE, replace=True)
    assert store.source_version(TABLE) > before


def test_loading_over_an_existing_table_needs_replace(account: LocalAccount, store: SimFeatureStore) -> None:
    with pytest.raises(AlreadyExists, match="LOANS"):
        load_source_table(account, TABLE, SAMPLE)


def test_qualified_and_unqualified_names_are_the_same_table(store: SimFeatureStore) -> None:
    assert store.source_version("snowbank.data.loans") == store.source_version(TABLE)


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (SAMPLE.drop(columns=["TS"]), "missing column"),
        (SAMPLE.head(0), "no rows"),
        (pd.concat([SAMPLE, SAMPLE.head(1)]), "duplicate LOAN_ID\\+TS"),
        (SAMPLE.assign(LOAN_ID=["1", "2", "x", "4"]), "LOAN_ID must be a whole number.*'x'"),
        (SAMPLE.assign(TS=["2024-01-01", "tomorrow", "2024-01-02", "2024-01-03"]), "TS must be a timestamp"),
        (SAMPLE.assign(MORTGAGERESPONSE=[0, 1, 2, 1]), "MORTGAGERESPONSE must be 0 or 1"),
        (SAMPLE.assign(LOAN_AMOUNT_000s=[1.0, 0.0, 2.0, 3.0]), "LOAN_AMOUNT_000s must be a positive"),
        (SAMPLE.assign(COUNTY_NAME=[1, 2, 3, 4]), "COUNTY_NAME must hold text"),
        (SAMPLE.assign(LOAN_ID=[1, None, 3, 4]), "LOAN_ID must not be NULL"),
    ],
)
def test_bad_data_is_refused_by_name_and_nothing_is_written(
    account: LocalAccount, frame: pd.DataFrame, problem: str
) -> None:
    with pytest.raises(InvalidData, match=problem):
        load_source_table(account, "BAD", frame)
    assert "BAD" not in _catalog_tables(account)
    with pytest.raises(NotFound):
        describe_table(account, "BAD")


def test_an_injection_attempt_as_a_table_name_is_refused(account: LocalAccount) -> None:
    with pytest.raises(InvalidName):
        load_source_table(account, 'x"; drop table t; --', SAMPLE)
    assert _catalog_tables(account) == set()


def test_date_parts_follow_snowflake(account: LocalAccount, store: SimFeatureStore) -> None:
    f = _features(account, store)
    assert (f.loc[1, "MONTH"], f.loc[1, "DAY_OF_YEAR"], f.loc[1, "DOTW"]) == (1, 7, 0)  # Sunday is 0
    assert f.loc[4, "DOTW"] == 3  # a Wednesday


def test_amounts_are_scaled_and_ratioed(account: LocalAccount, store: SimFeatureStore) -> None:
    f = _features(account, store)
    assert (f.loc[2, "LOAN_AMOUNT"], f.loc[2, "INCOME"], f.loc[2, "INCOME_LOAN_RATIO"]) == (
        300_000,
        150_000,
        0.5,
    )


def test_county_mean_income_and_high_income_flag(account: LocalAccount, store: SimFeatureStore) -> None:
    f = _features(account, store)
    assert f.loc[1, "MEAN_COUNTY_INCOME"] == f.loc[3, "MEAN_COUNTY_INCOME"] == 100_000
    assert (f.loc[1, "HIGH_INCOME_FLAG"], f.loc[2, "HIGH_INCOME_FLAG"]) == (0, 1)


def test_thirty_day_window_averages_the_countys_recent_loans(
    account: LocalAccount, store: SimFeatureStore
) -> None:
    f = _features(account, store)
    assert f.loc[2, "AVG_THIRTY_DAY_LOAN_AMOUNT"] == 200_000  # loans 1 and 2 are 13 days apart
    assert f.loc[3, "AVG_THIRTY_DAY_LOAN_AMOUNT"] == 200_000  # loan 3 is 41 days after loan 2: alone


def test_missing_values_get_the_global_mean(account: LocalAccount, store: SimFeatureStore) -> None:
    f = _features(account, store)
    assert f.loc[3, "INCOME"] == pytest.approx((50_000 + 150_000 + 20_000) / 3)
    assert f.loc[3, "HIGH_INCOME_FLAG"] == pytest.approx(1 / 3)  # fractional, as in the guide


def test_loan_purpose_is_encoded_in_sorted_order_with_null_as_minus_one(
    account: LocalAccount, store: SimFeatureStore
) -> None:
    f = _features(account, store)
    # sorted: Home improvement 0, Home purchase 1, Refinancing 2
    assert f["LOAN_PURPOSE_ENCODED"].to_dict() == {1: 2, 2: 1, 3: 0, 4: -1}


def test_registering_an_existing_view_warns_and_returns_it(store: SimFeatureStore) -> None:
    version = store.source_version(TABLE)
    first = store.ensure_feature_view(TABLE, version)
    with pytest.warns(UserWarning, match="already exists"):
        assert store.ensure_feature_view(TABLE, version) == first


def test_a_view_version_that_is_not_the_data_version_is_refused(
    account: LocalAccount, store: SimFeatureStore
) -> None:
    with pytest.raises(InvalidConfig, match="v20000101_000000"):
        store.ensure_feature_view(TABLE, "v20000101_000000")
    assert not any(t.startswith("MORTGAGE_FEATURE_VIEW$") for t in _catalog_tables(account))


def test_an_old_view_stays_after_the_data_changes(account: LocalAccount, store: SimFeatureStore) -> None:
    old = store.ensure_feature_view(TABLE, store.source_version(TABLE))
    load_source_table(account, TABLE, SAMPLE.head(2), replace=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new version is built, not skipped
        new = store.ensure_feature_view(TABLE, store.source_version(TABLE))
    assert new.version != old.version
    assert {f"{old.name}${old.version}", f"{new.name}${new.version}"} <= _catalog_tables(account)
