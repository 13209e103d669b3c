"""The account's SQL server: sessions on it are real Snowpark sessions over the account's DuckDB."""

from __future__ import annotations

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.sql.session import open_session


def test_a_closed_session_is_logged_out_so_it_is_not_closed_again_at_exit() -> None:
    with LocalAccount(None) as account:
        session = open_session(account)
        session.close()
        assert session._conn.is_closed()


def test_a_null_timestamp_reads_as_none_not_1970() -> None:
    with LocalAccount(None) as account:
        row = open_session(account).sql("select null::timestamp_ntz as t").collect()[0]
    assert row.T is None


def test_system_functions_outside_a_task_are_a_snowflake_error() -> None:
    with (
        LocalAccount(None) as account,
        pytest.raises(SnowparkSQLException, match="only inside a running task"),
    ):
        open_session(account).sql("select system$get_task_graph_config('k')").collect()


def test_a_table_a_session_creates_lives_in_the_account_database_file(tmp_path) -> None:
    with LocalAccount(tmp_path) as account:
        open_session(account).sql("create table T (X int)").collect()
        with account.cursor() as cur:
            assert cur.execute("select count(*) from SIMULATOR.PUBLIC.T").fetchone() == (0,)
    assert (tmp_path / "databases" / "SIMULATOR.db").exists()
