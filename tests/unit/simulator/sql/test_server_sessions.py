"""The account's SQL server: sessions on it are real Snowpark sessions over the account's DuckDB."""

from __future__ import annotations

import socket

import pytest
from snowflake.connector import platform_detection
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.sql.server import server_for
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


def test_the_server_sends_each_reply_at_once_not_after_the_clients_delayed_ack() -> None:
    # uvicorn writes a response's headers and body separately; without TCP_NODELAY Nagle's algorithm holds the
    # body until the client ACKs the headers, which Linux delays by 40 ms: ~45 ms per statement, measured.
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP (asyncio/base_events.py ``_set_nodelay``).
    with LocalAccount(None) as account:
        open_session(account).sql("select 1").collect()
        connections = server_for(account)._server.server_state.connections
        sockets = [c.transport.get_extra_info("socket") for c in connections]
        assert sockets
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)


def test_a_login_probes_no_cloud_metadata_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # The connector probes EC2/Azure/GCP metadata services at every login unless the timeout is 0.0
    # (snowflake/connector/platform_detection.py ``detect_platforms``): ~20 ms of each session open, offline.
    probed: list[str] = []
    for probe in ("is_ec2_instance", "has_aws_identity", "is_azure_vm", "is_gce_vm"):
        monkeypatch.setattr(platform_detection, probe, lambda *_a, _p=probe, **_k: probed.append(_p))
    with LocalAccount(None) as account:
        open_session(account).close()
    assert probed == []
