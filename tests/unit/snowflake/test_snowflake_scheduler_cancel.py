"""cancel runs SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS on the qualified root and reports what was executing."""

from __future__ import annotations

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from domain.errors import BackendUnavailable, NotFound
from tests.unit.snowflake.test_snowflake_scheduler import Account, G, _deployed, _graph_row, _scheduler

CANCEL = "SELECT SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS(?)"


def test_cancel_binds_the_qualified_root_name_and_returns_the_runs_that_were_executing() -> None:
    account = Account()
    scheduler = _deployed(account)
    account.current = [_graph_row(2000, "EXECUTING"), _graph_row(3000, "SCHEDULED")]
    assert scheduler.cancel(G) == ["2000"]
    sent = list(zip(account.session.queries, account.session.bound, strict=True))
    assert (CANCEL, [f"SNOWBANK.DEV.{G}"]) in sent


def test_cancel_with_nothing_executing_returns_no_runs() -> None:
    account = Account()
    scheduler = _deployed(account)
    assert scheduler.cancel(G) == []
    assert CANCEL in account.session.queries


def test_cancel_of_an_undeployed_graph_is_not_found() -> None:
    scheduler, _ = _scheduler()
    with pytest.raises(NotFound, match="not deployed"):
        scheduler.cancel(G)


def test_a_refused_cancel_becomes_a_domain_error_naming_the_graph() -> None:
    account = Account()
    scheduler = _deployed(account)

    def refuse() -> list[object]:
        raise SnowparkSQLException("Insufficient privileges to operate on task", sql_error_code=3001)

    account.session.answer(r"USER_TASK_CANCEL", refuse)
    with pytest.raises(BackendUnavailable, match=f"cancelling task graph SNOWBANK.DEV.{G}"):
        scheduler.cancel(G)
