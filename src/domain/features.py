"""The guide's mortgage feature set: what both backends' feature stores build, by the same names and rules.

The entity ``LOAN_ENTITY`` (join key ``LOAN_ID``) and the feature view ``MORTGAGE_FEATURE_VIEW`` with the guide's
ten features; datasets carry the label ``MORTGAGERESPONSE`` and exclude the key and the timestamp, which are
never features. The train/test split is a pure function of the key, so a loan keeps its split across data
versions and both backends split alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from domain.errors import InvalidData

FEATURE_VIEW_NAME = "MORTGAGE_FEATURE_VIEW"
ENTITY_NAME = "LOAN_ENTITY"
ENTITY_DESC = "Features defined on a per loan level"
JOIN_KEY = "LOAN_ID"
TIMESTAMP_COL = "TIMESTAMP"
LABEL_COL = "MORTGAGERESPONSE"
PURPOSE_COL = "LOAN_PURPOSE_NAME"
NUMERIC_FEATURES = (
    "MONTH",
    "DAY_OF_YEAR",
    "DOTW",
    "LOAN_AMOUNT",
    "INCOME",
    "INCOME_LOAN_RATIO",
    "MEAN_COUNTY_INCOME",
    "HIGH_INCOME_FLAG",
    "AVG_THIRTY_DAY_LOAN_AMOUNT",
)
ENCODED_FEATURE = "LOAN_PURPOSE_ENCODED"
FEATURES = (*NUMERIC_FEATURES, ENCODED_FEATURE)
LABEL_COLS = (LABEL_COL,)
EXCLUDE_COLS = (TIMESTAMP_COL, JOIN_KEY)

# A key's split bucket is the first 32 bits of the MD5 of its text; it goes to test below test_fraction.
HASH_SPACE = 2**32


def split_bucket(key: object) -> float:
    """Where a key falls in [0, 1): ``int(md5(str(key))[:8], 16) / 2**32``; test when below ``test_fraction``."""
    return int(hashlib.md5(str(key).encode()).hexdigest()[:8], 16) / HASH_SPACE


# What the source table must hold for every later run to work; both backends' setup refuse data that breaks it.
SOURCE_AMOUNT_COLS = ("LOAN_AMOUNT_000s", "APPLICANT_INCOME_000s")
# Thousands of USD: a trillion dollars is far above any loan or income and far below float32's 3.4e38, the
# precision XGBoost trains in (1e308 or inf becomes inf there, and 1000 * 1e308 already overflows float64).
MAX_AMOUNT_000S = 1e9
# The split is by LOAN_ID (``split_bucket``): with fewer loans a split (test_fraction 0.2) is empty too often
# (0.8**50 ~ 1e-5), and training needs both labels in its split.
MIN_LOANS = 50
MIN_ROWS_PER_CLASS = 5


def check_source_rows(columns: Mapping[str, Any], what: str) -> None:
    """Refuse rows every later run fails on; ``columns`` maps source column names (any case) to arrays.

    Rules: at least ``MIN_LOANS`` distinct ``LOAN_ID``s; at least ``MIN_ROWS_PER_CLASS`` rows of each label
    0 and 1; amounts finite with magnitude at most ``MAX_AMOUNT_000S`` (NaN is a missing value, allowed).
    Raises ``InvalidData`` naming ``what``, the column, the rule and what was found.
    """
    by_upper = {str(name).upper(): name for name in columns}

    def column(name: str) -> np.ndarray[Any, Any]:
        if name.upper() not in by_upper:
            raise InvalidData(f"{what}: missing column {name}")
        return np.asarray(columns[by_upper[name.upper()]])

    loans = len(np.unique(column(JOIN_KEY)))
    if loans < MIN_LOANS:
        raise InvalidData(
            f"{what}: column {JOIN_KEY} must hold at least {MIN_LOANS} distinct loans (the train/test split "
            f"is by {JOIN_KEY}); got {loans}"
        )
    labels = column(LABEL_COL)
    counts = {label: int(np.count_nonzero(labels == label)) for label in (0, 1)}
    if min(counts.values()) < MIN_ROWS_PER_CLASS:
        raise InvalidData(
            f"{what}: column {LABEL_COL} must hold both classes, at least {MIN_ROWS_PER_CLASS} rows of each "
            f"(a model learns to tell them apart); got {counts[0]} rows of 0 and {counts[1]} of 1"
        )
    for name in SOURCE_AMOUNT_COLS:
        values = column(name).astype(np.float64)
        bad = ~np.isnan(values) & ~(np.abs(values) <= MAX_AMOUNT_000S)
        if bad.any():
            raise InvalidData(
                f"{what}: column {name} must be finite and at most {MAX_AMOUNT_000S:g} (thousands of USD); "
                f"{int(bad.sum())} row(s) are not, e.g. {float(values[bad][0])!r}"
            )
