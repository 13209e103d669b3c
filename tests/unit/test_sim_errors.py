"""The simulator's one DuckDB/OSError → domain error table (adapters.simulator.account.errors)."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import pytest

from adapters.simulator.account.errors import (
    ACCOUNT,
    ENGINE_STATE,
    USER_INPUT,
    HomeFiles,
    classify,
    damaged,
    translate,
    translated,
)
from domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    DomainError,
    InvalidConfig,
    InvalidData,
    NotFound,
    StoreDamaged,
)


def _raised_by(sql: str) -> duckdb.Error:
    con = duckdb.connect()
    con.execute("create table t (a integer primary key, b integer not null)")
    con.execute("insert into t values (1, 1)")
    with pytest.raises(duckdb.Error) as raised:
        con.execute(sql)
    return raised.value


# Errors DuckDB raises for a statement, raised for real.
STATEMENT_ERRORS = [
    ("select * from no_such_table", duckdb.CatalogException, NotFound),
    ("insert into t values (1, 2)", duckdb.ConstraintException, AlreadyExists),
    ("insert into t values (2, null)", duckdb.ConstraintException, InvalidData),
    ("selec 1", duckdb.ParserException, InvalidConfig),
    ("select no_such_column from t", duckdb.BinderException, InvalidConfig),
    ("select cast('x' as integer)", duckdb.ConversionException, InvalidData),
    ("select 2147483647::integer + 1::integer", duckdb.OutOfRangeException, InvalidData),
    ("select * from read_parquet('/dev/null')", duckdb.InvalidInputException, InvalidData),
]

# Errors of the engine and of the database file, with DuckDB's own messages (from its library's strings).
ENGINE_ERRORS = [
    (
        duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate data of size 1.0 GiB"),
        BackendUnavailable,
    ),
    (duckdb.InterruptException("INTERRUPT Error: Interrupted!"), BackendUnavailable),
    (
        duckdb.IOException(
            'IO Error: Could not set lock on file "/h/account.duckdb": Conflicting lock is held'
        ),
        BackendUnavailable,
    ),
    (
        duckdb.IOException(
            "IO Error: Corrupt database file: computed checksum 1 does not match stored checksum 2 in block at "
            "location 3"
        ),
        StoreDamaged,
    ),
    (duckdb.FatalException("FATAL Error: database has been invalidated"), BackendUnavailable),
    (duckdb.InternalException("INTERNAL Error: unreachable"), BackendUnavailable),
]


@pytest.mark.parametrize(
    ("sql", "vendor", "domain"), STATEMENT_ERRORS, ids=[s for s, _, _ in STATEMENT_ERRORS]
)
def test_each_statement_error_has_one_domain_error(
    sql: str, vendor: type[duckdb.Error], domain: type[DomainError]
) -> None:
    exc = _raised_by(sql)
    assert type(exc) is vendor
    assert classify(exc, ACCOUNT) is domain
    assert classify(exc, USER_INPUT) is domain


@pytest.mark.parametrize(("exc", "domain"), ENGINE_ERRORS, ids=[type(e).__name__ for e, _ in ENGINE_ERRORS])
def test_each_engine_or_database_file_error_is_the_backends_whoever_ran_the_statement(
    exc: duckdb.Error, domain: type[DomainError]
) -> None:
    assert {classify(exc, source) for source in (ACCOUNT, USER_INPUT, ENGINE_STATE)} == {domain}


def test_an_io_error_is_the_backends_for_the_accounts_files_and_the_inputs_for_a_users_file() -> None:
    exc = _raised_by("select * from read_csv('/no/such/file.csv')")
    assert type(exc) is duckdb.IOException
    assert classify(exc, ACCOUNT) is BackendUnavailable
    assert classify(exc, USER_INPUT) is InvalidData
    assert classify(exc, ENGINE_STATE) is BackendUnavailable


def test_a_transaction_misuse_is_the_backends_in_the_accounts_work_and_the_users_in_their_sql() -> None:
    exc = _raised_by("begin; begin")
    assert type(exc) is duckdb.TransactionException
    assert classify(exc, ACCOUNT) is BackendUnavailable
    assert classify(exc, USER_INPUT) is InvalidData


def test_a_users_damaged_parquet_file_is_invalid_data_not_a_corrupt_home() -> None:
    exc = duckdb.IOException("IO Error: Parquet metadata is corrupt. Column has invalid number of values (3)")
    assert classify(exc, USER_INPUT) is InvalidData


def test_the_engines_own_state_turns_caller_errors_into_backend_errors() -> None:
    for sql, _, _ in STATEMENT_ERRORS:
        assert classify(_raised_by(sql), ENGINE_STATE) is BackendUnavailable, sql


def test_translate_names_what_was_being_done_and_the_vendor_message() -> None:
    error = translate(_raised_by("select * from no_such_table"), "reading dataset D")
    assert isinstance(error, NotFound)
    assert str(error).startswith("reading dataset D: Catalog Error") and "no_such_table" in str(error)


def test_translated_maps_an_os_error_by_its_source() -> None:
    with (
        pytest.raises(BackendUnavailable, match="writing model M: disk full"),
        translated("writing model M"),
    ):
        raise OSError("disk full")
    with (
        pytest.raises(InvalidData, match="data file F could not be read: permission denied"),
        translated("data file F could not be read", USER_INPUT),
    ):
        raise PermissionError("permission denied")


def test_a_full_disk_is_the_backends_whoever_wrote_the_file() -> None:
    exc = duckdb.IOException('IO Error: Could not write file "/home/x.parquet": No space left on device')
    assert {classify(exc, source) for source in (ACCOUNT, USER_INPUT, ENGINE_STATE)} == {BackendUnavailable}


def test_translated_names_the_path_a_full_disk_refused() -> None:
    with (
        pytest.raises(
            BackendUnavailable, match=r"writing dataset D: no space left on /home/d\.parquet; free"
        ),
        translated("writing dataset D", USER_INPUT),
    ):
        raise OSError(errno.ENOSPC, "No space left on device", "/home/d.parquet")


@pytest.mark.parametrize(
    "exc",
    [
        duckdb.IOException(
            'IO Error: Could not write file "/home/account.duckdb.wal": No space left on device'
        ),
        duckdb.IOException(
            'IO Error: Async write failed for range [offset=0, size=27]: {"exception_type":"IO",'
            '"exception_message":"Could not write file \\"/home/account.duckdb.wal\\": No space left on device",'
            '"errno":"28"}'
        ),
        duckdb.TransactionException(
            'TransactionContext Error: Failed to commit: Could not write file "/home/account.duckdb.wal": No '
            "space left on device"
        ),
    ],
)
def test_a_full_disk_in_duckdb_names_the_file_it_could_not_write(exc: duckdb.Error) -> None:
    error = translate(exc, "recording run R", USER_INPUT)
    assert isinstance(error, BackendUnavailable)
    assert str(error).startswith(
        "recording run R: no space left on /home/account.duckdb.wal; free some space"
    )


def test_translated_lets_domain_errors_pass_unchanged() -> None:
    original = NotFound("graph G does not exist")
    with pytest.raises(NotFound) as raised, translated("reading graph G", ENGINE_STATE):
        raise original
    assert raised.value is original


def _block_damage(location: int, stored: int) -> duckdb.Error:
    return duckdb.Error(
        f"Corrupt database file: computed checksum 1 does not match stored checksum {stored} in block at location "
        f"{location}"
    )


def test_a_damaged_block_is_named_by_the_file_whose_bytes_there_are_the_stored_checksum(
    tmp_path: Path,
) -> None:
    account, database = tmp_path / "account.duckdb", tmp_path / "databases" / "DB.db"
    database.parent.mkdir()
    account.write_bytes(bytes(64))
    database.write_bytes(bytes(16) + (12345).to_bytes(8, "little") + bytes(40))

    error = damaged(_block_damage(16, 12345), HomeFiles(account, (database,)), "reading table T")

    assert isinstance(error, StoreDamaged)
    assert str(error).startswith(f"reading table T: the file {database} of Snowflake database DB is damaged")


def test_a_damaged_block_no_file_holds_sends_the_user_to_doctor(tmp_path: Path) -> None:
    account = tmp_path / "account.duckdb"
    account.write_bytes(bytes(64))

    error = damaged(_block_damage(16, 12345), HomeFiles(account, ()))

    assert isinstance(error, StoreDamaged) and "`python -m app doctor` names it" in str(error)


def test_an_error_that_is_no_damage_is_left_to_the_table() -> None:
    assert damaged(duckdb.CatalogException("Catalog Error: Table with name T does not exist!")) is None
