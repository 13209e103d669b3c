"""The seeded stand-in for MORTGAGE_LENDING_DEMO_DATA: shape, determinism, and a label that carries signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from adapters.simulator.feature_store.data_generator import (
    LOAN_PURPOSES,
    LOAN_TYPES,
    NY_COUNTIES,
    generate_mortgage_data,
)
from domain.errors import InvalidConfig

ROWS = 20_000


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return generate_mortgage_data(ROWS, seed=7)


def test_same_seed_gives_identical_data() -> None:
    pd.testing.assert_frame_equal(generate_mortgage_data(500, seed=3), generate_mortgage_data(500, seed=3))


def test_another_seed_gives_other_data() -> None:
    a, b = generate_mortgage_data(500, seed=3), generate_mortgage_data(500, seed=4)
    assert not a["LOAN_AMOUNT_000s"].equals(b["LOAN_AMOUNT_000s"])


def test_has_the_guides_columns_and_types(data: pd.DataFrame) -> None:
    assert list(data.columns) == [
        "LOAN_ID", "TS", "LOAN_TYPE_NAME", "LOAN_PURPOSE_NAME", "COUNTY_NAME",
        "LOAN_AMOUNT_000s", "APPLICANT_INCOME_000s", "MORTGAGERESPONSE",
    ]  # fmt: skip
    assert data["LOAN_ID"].dtype == np.int64 and data["LOAN_ID"].is_unique
    assert pd.api.types.is_datetime64_any_dtype(data["TS"])
    assert len(data) == ROWS


def test_categories_are_the_originals(data: pd.DataFrame) -> None:
    assert set(data["LOAN_TYPE_NAME"]) == set(LOAN_TYPES)
    assert set(data["LOAN_PURPOSE_NAME"]) == set(LOAN_PURPOSES)
    assert len(NY_COUNTIES) == 62
    assert set(data["COUNTY_NAME"].dropna()) == {f"{c} County" for c in NY_COUNTIES}
    assert data["COUNTY_NAME"].nunique(dropna=False) == 63  # the 62 counties and NULL


def test_rates_match_the_original(data: pd.DataFrame) -> None:
    assert data["MORTGAGERESPONSE"].mean() == pytest.approx(0.78, abs=0.005)
    assert data["APPLICANT_INCOME_000s"].isna().mean() == pytest.approx(0.15, abs=0.01)
    assert data["LOAN_AMOUNT_000s"].min() > 0


def test_timestamps_span_more_than_a_year(data: pd.DataFrame) -> None:
    assert data["TS"].max() - data["TS"].min() > pd.Timedelta(days=365)
    assert data["TS"].is_monotonic_increasing


def test_zero_signal_makes_the_label_a_fair_coin() -> None:
    assert generate_mortgage_data(ROWS, seed=7, signal=0.0)["MORTGAGERESPONSE"].mean() == pytest.approx(
        0.5, abs=0.01
    )


def _guide_model_accuracy(frame: pd.DataFrame) -> float:
    """The guide's XGBoost settings on features derived as the feature view derives them, 80/20 split."""
    income, loan = frame["APPLICANT_INCOME_000s"], frame["LOAN_AMOUNT_000s"]
    features = pd.DataFrame(
        {
            "MONTH": frame["TS"].dt.month,
            "DAY_OF_YEAR": frame["TS"].dt.dayofyear,
            "INCOME_LOAN_RATIO": income / loan,
            "MEAN_COUNTY_INCOME": income.groupby(frame["COUNTY_NAME"].fillna("")).transform("mean"),
            "PURPOSE": frame["LOAN_PURPOSE_NAME"].map({p: i for i, p in enumerate(sorted(LOAN_PURPOSES))}),
        }
    )
    label = frame["MORTGAGERESPONSE"].to_numpy()
    test = np.arange(len(frame)) % 5 == 0
    params = {"max_depth": 50, "eta": 0.75, "objective": "binary:logistic", "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(features[~test], label[~test]), num_boost_round=3)
    return float(((booster.predict(xgb.DMatrix(features[test])) > 0.5) == label[test]).mean())


def test_full_signal_lets_the_guides_model_beat_the_base_rate(data: pd.DataFrame) -> None:
    assert _guide_model_accuracy(data) > 0.83


def test_zero_signal_keeps_the_guides_model_below_the_default_threshold() -> None:
    assert _guide_model_accuracy(generate_mortgage_data(ROWS, seed=7, signal=0.0)) < 0.6


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"rows": 0}, "rows"), ({"seed": -1}, "seed"), ({"signal": 1.5}, "signal"), ({"rows": 2.5}, "rows")],
)
def test_bad_parameters_are_refused_by_name(kwargs: dict, named: str) -> None:
    with pytest.raises(InvalidConfig, match=named):
        generate_mortgage_data(**kwargs)
