"""The feature view's Snowpark expressions compute what the simulator's SQL computes, on the same small data.

Run in Snowpark's local testing mode. What it cannot check (see the report): the Snowflake server's own
evaluation (local testing emulates it in pandas), DAYOFWEEK under a non-default WEEK_START, and MD5/TO_NUMBER of
the split rule, which local testing does not implement — that rule is checked against the simulator's hash below.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from snowflake.snowpark import Session

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.feature_store import feature_views as sim
from adapters.simulator.feature_store.data_generator import generate_mortgage_data
from adapters.simulator.feature_store.source_tables import load_source_table
from adapters.snowflake import feature_store as sf
from domain.errors import BackendUnavailable, InvalidConfig

ROWS = 300


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    frame = generate_mortgage_data(rows=ROWS, seed=7)
    frame.loc[frame.index[:5], "LOAN_PURPOSE_NAME"] = None  # the encoder's NULL case
    return frame


@pytest.fixture(scope="module")
def simulator_features(raw: pd.DataFrame) -> pd.DataFrame:
    with LocalAccount(None) as account:
        info = load_source_table(account, "MORTGAGE_LENDING_DEMO_DATA", raw)
        with account.cursor() as cur:
            return cur.execute(sim.feature_view_query(cur, info.name)).df()


@pytest.fixture(scope="module")
def snowpark_features(raw: pd.DataFrame) -> pd.DataFrame:
    session = Session.builder.config("local_testing", True).create()
    try:
        df = session.create_dataframe(raw)
        encoder = sf.label_encoder(session, sf.purpose_levels(df))
        means = sf.global_means(sf.base_features(df))
        return sf.feature_dataframe(df, means=means, encoder=encoder).to_pandas()
    finally:
        session.close()


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.rename(columns=str.upper)
    return frame.sort_values(sf.JOIN_KEY).set_index(sf.JOIN_KEY)


def test_the_feature_dataframe_has_key_timestamp_and_features(snowpark_features: pd.DataFrame) -> None:
    assert list(snowpark_features.columns) == [sf.JOIN_KEY, sf.TIMESTAMP_COL, *sf.FEATURES]
    assert len(snowpark_features) == ROWS


@pytest.mark.parametrize("feature", sf.NUMERIC_FEATURES)
def test_numeric_feature_matches_the_simulator(
    feature: str, snowpark_features: pd.DataFrame, simulator_features: pd.DataFrame
) -> None:
    ours = _by_key(snowpark_features)[feature].astype(float)
    theirs = _by_key(simulator_features)[feature].astype(float)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9, atol=1e-9)


def test_the_label_encoder_matches_the_simulator_including_null_as_minus_one(
    snowpark_features: pd.DataFrame, simulator_features: pd.DataFrame
) -> None:
    ours = _by_key(snowpark_features)[sf.ENCODED_FEATURE].astype(int)
    theirs = _by_key(simulator_features)[sf.ENCODED_FEATURE].astype(int)
    assert ours.tolist() == theirs.tolist()
    assert (ours.iloc[:5] == -1).all()


def test_imputation_needs_every_mean() -> None:
    with pytest.raises(InvalidConfig, match="means lack"):
        sf.feature_dataframe(None, means={}, encoder=lambda c: c)


@pytest.mark.parametrize("key", [1, 42, 1234567, 99999999])
def test_the_split_bucket_is_the_first_32_bits_of_the_keys_md5_like_the_domain_rule(key: int) -> None:
    from domain.features import split_bucket

    train, test = sf.split_filters(0.2)
    bucket = int(hashlib.md5(str(key).encode()).hexdigest()[:8], 16)
    assert sf.SPLIT_BUCKET_SQL == "TO_NUMBER(SUBSTR(MD5(TO_VARCHAR(LOAN_ID)), 1, 8), 'XXXXXXXX')"
    assert (bucket < 0.2 * sf.HASH_SPACE) == (split_bucket(key) < 0.2)
    assert test.endswith(f"< {0.2 * 2**32!r}") and train.endswith(f">= {0.2 * 2**32!r}")


@pytest.mark.parametrize("fraction", [0, 1, -0.1, True, "0.2"])
def test_split_fraction_must_be_strictly_between_0_and_1(fraction: object) -> None:
    with pytest.raises(InvalidConfig, match="test_fraction"):
        sf.split_filters(fraction)  # type: ignore[arg-type]


def test_source_version_of_a_quoted_table_binds_the_stored_names() -> None:
    from datetime import datetime

    from adapters.snowflake.feature_store import SnowflakeFeatureStore
    from tests.unit.snowflake.sf_fakes import ScriptedSession

    session = ScriptedSession()
    session.answer(r"INFORMATION_SCHEMA\.TABLES", [(datetime(2026, 2, 10, 9, 28, 49),)])
    store = SnowflakeFeatureStore(session)
    assert store.source_version('raw."Loans 2026"') == "v20260210_092849"
    assert session.queries[-1].startswith("select LAST_ALTERED from SNOWBANK.INFORMATION_SCHEMA.TABLES")
    assert session.bound[-1] == ["RAW", "Loans 2026"]


def test_a_quoted_dataset_name_stays_quoted_in_its_qualified_name() -> None:
    from adapters.snowflake.feature_store import SnowflakeFeatureStore

    store = SnowflakeFeatureStore(None)
    assert store._dataset_fqn('"Mortgage ds"') == 'SNOWBANK.DEV."Mortgage ds"'
    assert store._dataset_fqn("mortgage_ds") == "SNOWBANK.DEV.MORTGAGE_DS"


def _dataset_store(rows: list[Any]) -> sf.SnowflakeFeatureStore:
    """A feature store whose session holds the dataset SNOWBANK.DEV.MORTGAGE_DS with ``rows`` as its versions."""
    from tests.unit.snowflake.fixtures.library_rows import DatasetSession

    return sf.SnowflakeFeatureStore(DatasetSession("SNOWBANK", "DEV", {"SNOWBANK.DEV.MORTGAGE_DS": rows}))


def test_dataset_versions_are_listed_through_the_librarys_own_parsing() -> None:
    from tests.unit.snowflake.fixtures.library_rows import dataset_version_row

    first, second = datetime(2026, 2, 9, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC)
    store = _dataset_store([dataset_version_row("v2", second, "second"), dataset_version_row("v1", first)])

    listed = store.list_dataset_versions("mortgage_ds")

    assert [(v.name, v.version, v.created_on, v.comment) for v in listed] == [
        ("mortgage_ds", "v1", first, ""),
        ("mortgage_ds", "v2", second, "second"),
    ]


def test_the_version_column_is_the_one_snowflake_ml_reads() -> None:
    from snowflake.ml.dataset import dataset

    assert sf.DATASET_VERSION_COLUMN == dataset._DATASET_VERSION_NAME_COL


def test_a_listing_row_of_another_shape_is_a_clear_domain_error() -> None:
    from snowflake.snowpark import Row

    store = _dataset_store([Row(version="v1", comment=None, metadata="{}")])  # no created_on

    with pytest.raises(
        BackendUnavailable, match=r"versions of dataset SNOWBANK\.DEV\.MORTGAGE_DS: .*'created_on'"
    ):
        store.list_dataset_versions("mortgage_ds")
