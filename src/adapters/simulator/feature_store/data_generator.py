"""A seeded stand-in for the guide's MORTGAGE_LENDING_DEMO_DATA (HMDA-style New York mortgage applications).

The guide's CSV is not redistributable, so this makes a table of the same shape: LOAN_ID, TS, LOAN_TYPE_NAME,
LOAN_PURPOSE_NAME, COUNTY_NAME, LOAN_AMOUNT_000s, APPLICANT_INCOME_000s (thousands of USD, ~15% NULL income)
and MORTGAGERESPONSE (1 = approved). COUNTY_NAME holds the 62 real New York counties plus NULL for ~1% of rows
(63 distinct values, as the original's documentation counts them).

The label is drawn from a latent score built from what the guide's features can see — income-to-loan ratio,
loan purpose, county, season and a slow drift over time — plus logistic noise, thresholded at the quantile
that gives the approval rate. ``signal`` in [0, 1] scales the score and moves the approval rate from 78%
(signal 1) down to 50% (signal 0, where the label is pure noise), so a weak signal honestly fails the guide's
0.7 accuracy gate. Everything is vectorized numpy; the same ``(rows, seed, signal)`` gives identical data.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from domain.errors import InvalidConfig
from domain.features import MIN_LOANS

DEFAULT_ROWS = 369_245
START = np.datetime64("2023-01-01T00:00:00.000")
SPAN_DAYS = 456  # fifteen months: more than a year of applications

NY_COUNTIES = (
    "Albany", "Allegany", "Bronx", "Broome", "Cattaraugus", "Cayuga", "Chautauqua", "Chemung", "Chenango",
    "Clinton", "Columbia", "Cortland", "Delaware", "Dutchess", "Erie", "Essex", "Franklin", "Fulton",
    "Genesee", "Greene", "Hamilton", "Herkimer", "Jefferson", "Kings", "Lewis", "Livingston", "Madison",
    "Monroe", "Montgomery", "Nassau", "New York", "Niagara", "Oneida", "Onondaga", "Ontario", "Orange",
    "Orleans", "Oswego", "Otsego", "Putnam", "Queens", "Rensselaer", "Richmond", "Rockland", "Saratoga",
    "Schenectady", "Schoharie", "Schuyler", "Seneca", "St. Lawrence", "Steuben", "Suffolk", "Sullivan",
    "Tioga", "Tompkins", "Ulster", "Warren", "Washington", "Wayne", "Westchester", "Wyoming", "Yates",
)  # fmt: skip
# The most populous counties get most applications, as in the real data.
_BIG_COUNTIES = {"Kings": 9.0, "Queens": 8.0, "Suffolk": 8.0, "Nassau": 7.5, "New York": 6.0, "Erie": 5.0,
                 "Westchester": 5.0, "Bronx": 4.0, "Monroe": 4.0, "Richmond": 2.5, "Onondaga": 2.5,
                 "Orange": 2.0, "Rockland": 1.8, "Albany": 1.8, "Dutchess": 1.6}  # fmt: skip
LOAN_TYPES = ("Conventional", "FHA-insured", "VA-guaranteed", "FSA/RHS-guaranteed")
LOAN_PURPOSES = ("Home purchase", "Refinancing", "Home improvement")

APPROVAL_RATE = 0.78
NOISE_APPROVAL_RATE = 0.5
MISSING_INCOME = 0.15
MISSING_COUNTY = 0.01


# Peak memory per row: ~300 bytes to generate (measured with tracemalloc at 200,000 rows), plus the copies loading
# it into the account and building its feature view make.
BYTES_PER_ROW = 1024


def available_memory() -> int | None:
    """Bytes of physical memory free now, where the platform says (Linux, macOS); else None."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(rows: int) -> None:
    free = available_memory()
    if free is not None and rows * BYTES_PER_ROW > free:
        raise InvalidConfig(
            f"rows={rows:,} needs about {rows * BYTES_PER_ROW / 2**30:,.1f} GiB of memory to generate and load; "
            f"{free / 2**30:,.1f} GiB is free, enough for about {free // BYTES_PER_ROW:,} rows "
            "(or load your own data with --data)"
        )


def generate_mortgage_data(rows: int = DEFAULT_ROWS, seed: int = 42, signal: float = 1.0) -> pd.DataFrame:
    """The guide's columns, ``rows`` applications ordered by TS (LOAN_ID 1..rows in that order)."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < MIN_LOANS:
        raise InvalidConfig(
            f"rows must be a whole number >= {MIN_LOANS} (the train/test split by LOAN_ID needs that many "
            f"loans), got {rows!r}"
        )
    _check_memory(rows)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidConfig(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(signal, int | float) or not 0.0 <= float(signal) <= 1.0:
        raise InvalidConfig(f"signal must be a number in [0, 1], got {signal!r}")
    signal = float(signal)
    rng = np.random.default_rng(seed)

    ms = np.sort(rng.integers(0, SPAN_DAYS * 86_400_000, size=rows))
    ts = START + ms.astype("timedelta64[ms]")
    years = ms / (365.25 * 86_400_000)
    day_of_year = (ts - ts.astype("datetime64[Y]")).astype("timedelta64[D]").astype(np.int64)

    weights = np.array([_BIG_COUNTIES.get(c, 0.5) for c in NY_COUNTIES]) * rng.uniform(
        0.7, 1.3, len(NY_COUNTIES)
    )
    county = rng.choice(len(NY_COUNTIES), size=rows, p=weights / weights.sum())
    county_income = rng.normal(4.4, 0.25, len(NY_COUNTIES))  # log of the county's median income, in $000s
    county_effect = rng.normal(0.0, 0.8, len(NY_COUNTIES))  # local lending practice

    purpose = rng.choice(len(LOAN_PURPOSES), size=rows, p=[0.55, 0.35, 0.10])
    loan_type = rng.choice(len(LOAN_TYPES), size=rows, p=[0.72, 0.18, 0.07, 0.03])

    log_income = county_income[county] + rng.normal(0.0, 0.55, rows)
    # Loans scale with income; home improvement loans are small, refinancing a little below purchase.
    purpose_scale = np.array([0.9, 0.6, -1.2])[purpose]
    log_loan = log_income + purpose_scale + rng.normal(0.0, 0.6, rows)
    income = np.round(np.exp(log_income))
    loan = np.maximum(np.round(np.exp(log_loan)), 1.0)

    ratio = np.clip(log_income - log_loan, -3.0, 3.0)
    purpose_effect = np.array([0.6, -0.5, -1.0])[purpose]
    season = 0.5 * np.sin(2 * np.pi * day_of_year / 365.25)
    drift = -0.6 * years  # rates rose: approvals got harder over the period
    income_missing = rng.random(rows) < MISSING_INCOME
    score = 3.0 * ratio + purpose_effect + county_effect[county] + season + drift - 0.8 * income_missing
    latent = 2.5 * signal * score + rng.logistic(0.0, 1.0, rows)
    rate = NOISE_APPROVAL_RATE + (APPROVAL_RATE - NOISE_APPROVAL_RATE) * signal
    approved = latent > np.quantile(latent, 1.0 - rate)

    county_names = np.array([f"{c} County" for c in NY_COUNTIES], dtype=object)[county]
    county_names[rng.random(rows) < MISSING_COUNTY] = None
    return pd.DataFrame(
        {
            "LOAN_ID": np.arange(1, rows + 1, dtype=np.int64),
            "TS": ts.astype("datetime64[ns]"),
            "LOAN_TYPE_NAME": np.array(LOAN_TYPES, dtype=object)[loan_type],
            "LOAN_PURPOSE_NAME": np.array(LOAN_PURPOSES, dtype=object)[purpose],
            "COUNTY_NAME": county_names,
            "LOAN_AMOUNT_000s": loan,
            "APPLICANT_INCOME_000s": np.where(income_missing, np.nan, income),
            "MORTGAGERESPONSE": approved.astype(np.int64),
        }
    )
