"""The guide's mortgage feature set: what both backends' feature stores build, by the same names and rules.

The entity ``LOAN_ENTITY`` (join key ``LOAN_ID``) and the feature view ``MORTGAGE_FEATURE_VIEW`` with the guide's
ten features; datasets carry the label ``MORTGAGERESPONSE`` and exclude the key and the timestamp, which are
never features. The train/test split is a pure function of the key, so a loan keeps its split across data
versions and both backends split alike.
"""

from __future__ import annotations

import hashlib

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
