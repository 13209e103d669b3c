"""The run report over the Snowflake scheduler: the graph-run views and TASK_HISTORY rows its adapter reads
(scripted as in test_snowflake_scheduler.py) end up in the grid, upper-case stored task names included."""

from __future__ import annotations

from app.report.html import render_html
from app.report.model import collect_report
from tests.clocks import FakeClock
from tests.fakes import FakeJobRunner, FakeModelRegistry
from tests.unit.snowflake.test_snowflake_scheduler import Account, _deployed, _graph


def test_the_report_shows_the_task_states_snowflake_reports_for_each_run() -> None:
    account = Account()
    scheduler = _deployed(account)
    scheduler.run("MORTGAGE_PIPELINE")
    account.finish("SUCCEEDED")
    clock = FakeClock()

    report = collect_report(
        graph=_graph(),
        scheduler=scheduler,
        registry=FakeModelRegistry(clock),
        jobs=FakeJobRunner(),
        model_name="mortgage_model",
        runs=10,
        instances=2,
        backend="snowflake",
        location="connection offline",
        now=clock,
    )

    assert [r.run.run_id for r in report.runs] == ["2000", "1000"]
    html = render_html(report)
    assert 'data-run="2000" data-task="prepare_data">SUCCEEDED<' in html
    assert 'data-run="2000" data-task="send_alert">SKIPPED<' in html
    assert "snowflake backend · connection offline" in html
