"""``setup_account``: the guide's objects in a local account, idempotent, with --force and --data."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from adapters.simulator.account.home import LocalAccount, stored_tables
from adapters.simulator.account.objects import compute_pool_max_nodes
from adapters.simulator.feature_store.data_generator import generate_mortgage_data
from adapters.simulator.feature_store.source_tables import describe_table
from adapters.simulator.setup import setup_account
from domain.errors import AlreadyExists, InvalidConfig, InvalidData, InvalidName

ROWS = 800


def _tables(account: LocalAccount) -> set[str]:
    with account.cursor() as cur:
        return {name for _, _, name, _ in stored_tables(cur)}


def test_first_run_creates_the_guides_objects_and_loads_the_table(account: LocalAccount) -> None:
    report = setup_account(account, rows=ROWS)
    assert report.created == (
        "database SNOWBANK", "schema SNOWBANK.DEV", "schema SNOWBANK.DATA",
        "stage @SNOWBANK.DEV.DAG_STAGE", "stage @SNOWBANK.DEV.JOB_STAGE", "stage @SNOWBANK.DATA.UDF_STAGE",
        "compute pool DEMO_POOL",
    )  # fmt: skip
    assert report.loaded and report.row_count == ROWS
    assert report.data_version == describe_table(account, "SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA").version
    assert not account.is_new


def test_stages_are_folders_in_the_files_area(account: LocalAccount) -> None:
    setup_account(account, rows=ROWS)
    assert (account.files / "stages" / "SNOWBANK" / "DEV" / "DAG_STAGE").is_dir()
    assert (account.files / "stages" / "SNOWBANK" / "DEV" / "JOB_STAGE").is_dir()


def test_setup_registers_the_feature_view_of_the_data_version(account: LocalAccount) -> None:
    report = setup_account(account, rows=ROWS)
    assert f"MORTGAGE_FEATURE_VIEW${report.data_version}" in _tables(account)


def test_second_run_changes_nothing_and_says_so(account: LocalAccount) -> None:
    first = setup_account(account, rows=ROWS)
    second = setup_account(account, rows=ROWS)
    assert not second.changed and second.created == ()
    assert second.data_version == first.data_version
    assert any("Nothing to do" in line for line in second.messages)


def test_force_rebuilds_the_table_under_a_new_data_version(account: LocalAccount) -> None:
    first = setup_account(account, rows=ROWS)
    second = setup_account(account, rows=ROWS // 2, force=True)
    assert second.loaded and second.row_count == ROWS // 2
    assert second.data_version > first.data_version
    assert any(first.data_version in line and second.data_version in line for line in second.messages)


def test_data_file_is_loaded_instead_of_generating(account: LocalAccount, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    generate_mortgage_data(123, seed=1).to_csv(path, index=False)
    report = setup_account(account, data=path)
    assert report.row_count == 123
    assert any(str(path) in line for line in report.messages)


def test_parquet_data_file_is_loaded(account: LocalAccount, tmp_path: Path) -> None:
    path = tmp_path / "mine.parquet"
    generate_mortgage_data(50, seed=1).to_parquet(path)
    assert setup_account(account, data=path).row_count == 50


def test_a_bad_data_file_leaves_the_account_untouched(account: LocalAccount, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    generate_mortgage_data(100, seed=1).drop(columns=["MORTGAGERESPONSE"]).to_csv(path, index=False)
    with pytest.raises(InvalidData, match="MORTGAGERESPONSE"):
        setup_account(account, data=path)
    assert account.is_new
    assert not (account.files / "stages").exists()


def test_bad_parameters_leave_the_account_untouched(account: LocalAccount) -> None:
    with pytest.raises(InvalidConfig, match="signal"):
        setup_account(account, rows=ROWS, signal=2.0)
    assert account.is_new


def test_an_injection_attempt_as_a_name_is_refused_before_anything_is_written(account: LocalAccount) -> None:
    with pytest.raises(InvalidName):
        setup_account(account, rows=ROWS, source_table='x"; drop table t; --')
    assert account.is_new
    assert _tables(account) == set()


def test_setup_creates_the_configured_compute_pool_with_its_max_nodes(account: LocalAccount) -> None:
    setup_account(account, rows=ROWS, compute_pool="train_pool", compute_pool_max_nodes=4)

    with account.cursor() as cur:
        assert compute_pool_max_nodes(cur, "TRAIN_POOL") == 4
        assert compute_pool_max_nodes(cur, "DEMO_POOL") is None


def test_setup_rerun_on_a_home_from_before_pools_creates_the_pool_and_keeps_the_data(
    account: LocalAccount,
) -> None:
    first = setup_account(account, rows=ROWS)
    with account.cursor() as cur:  # a home set up before compute pools were account objects
        cur.execute("drop table SIM_COMPUTE_POOLS")

    again = setup_account(account, rows=ROWS)

    assert again.created == ("compute pool DEMO_POOL",) and not again.loaded
    assert again.data_version == first.data_version


def test_a_bad_pool_size_is_refused_before_anything_is_written(account: LocalAccount) -> None:
    with pytest.raises(InvalidConfig, match="MAX_NODES must be a whole number >= 1, got 0"):
        setup_account(account, rows=ROWS, compute_pool_max_nodes=0)
    assert account.is_new


def test_a_csv_value_unlike_its_column_names_the_line_and_the_fix_not_duckdb_options(
    account: LocalAccount, tmp_path: Path
) -> None:
    # Beyond DuckDB's type-sniffing sample (20480 rows), so LOAN_ID is read as BIGINT until the bad line.
    path = tmp_path / "late_text.csv"
    frame = generate_mortgage_data(21_000, seed=1)
    frame.to_csv(path, index=False)
    bad = frame.iloc[:1].astype(str).assign(LOAN_ID="L-1")
    bad.to_csv(path, mode="a", header=False, index=False)
    with pytest.raises(InvalidData) as err:
        setup_account(account, data=path)
    message = str(err.value)
    assert "line 21002" in message and "column LOAN_ID holds 'L-1'" in message
    assert "correct or remove that line" in message
    assert "types=" not in message and "sample_size" not in message
    assert account.is_new


def test_a_data_file_on_a_set_up_home_without_force_is_refused_not_ignored(
    account: LocalAccount, tmp_path: Path
) -> None:
    first = setup_account(account, rows=ROWS)
    path = tmp_path / "mine.csv"
    generate_mortgage_data(123, seed=1).to_csv(path, index=False)
    with pytest.raises(AlreadyExists, match=rf"--data {re.escape(str(path))} was not loaded.*add -f"):
        setup_account(account, data=path)
    assert describe_table(account, "SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA").version == first.data_version
    assert setup_account(account, data=path, force=True).row_count == 123


def _all_ids_one(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(LOAN_ID=7)


def _one_class(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(MORTGAGERESPONSE=1)


def _with(column: str, value: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[3, column] = value
        return frame

    return change


@pytest.mark.parametrize(
    ("rows", "change", "rule"),
    [
        (ROWS, _with("LOAN_AMOUNT_000s", math.inf), r"LOAN_AMOUNT_000s must be finite and at most 1e\+09"),
        (ROWS, _with("APPLICANT_INCOME_000s", -math.inf), "APPLICANT_INCOME_000s must be finite"),
        (ROWS, _with("LOAN_AMOUNT_000s", 1e308), r"LOAN_AMOUNT_000s must be finite and at most 1e\+09"),
        (ROWS, _all_ids_one, "LOAN_ID must hold at least 50 distinct loans.*got 1$"),
        (ROWS, _one_class, "MORTGAGERESPONSE must hold both classes.*got 0 rows of 0"),
        (20, lambda frame: frame, "LOAN_ID must hold at least 50 distinct loans.*got 20$"),
    ],
)
def test_a_data_file_every_later_run_would_fail_on_is_refused_with_its_rule(
    account: LocalAccount,
    tmp_path: Path,
    rows: int,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    rule: str,
) -> None:
    path = tmp_path / "mine.parquet"
    change(generate_mortgage_data(max(rows, 50), seed=1).head(rows)).to_parquet(path)
    with pytest.raises(InvalidData, match=rule):
        setup_account(account, data=path)
    assert account.is_new and _tables(account) <= {"SIM_TABLES", "SIM_OBJECTS", "SIM_COMPUTE_POOLS"}


def test_too_few_generated_rows_are_refused_before_anything_is_written(account: LocalAccount) -> None:
    with pytest.raises(InvalidConfig, match=r"rows must be a whole number >= 50.*got 1$"):
        setup_account(account, rows=1)
    assert account.is_new


def test_more_generated_rows_than_memory_holds_are_refused_with_the_limit(account: LocalAccount) -> None:
    with pytest.raises(InvalidConfig, match=r"rows=10,000,000,000,000 needs about .* GiB of memory.*--data"):
        setup_account(account, rows=10**13)
    assert account.is_new
