"""The HTML run report, built from in-memory ports: what each run, task and model version shows, and that text a
task produced is always shown as text."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.report import ReportFile
from app.report.html import render_html
from app.report.model import Report, collect_report
from domain.config import PipelineConfig
from domain.gating import GateDecision, Outcome
from domain.graph import GraphRun, GraphRunState, GraphSpec, TaskRun, TaskState
from domain.names import model_version_for
from domain.pipeline import pipeline_graph
from domain.refs import DatasetRef, ModelArtifact, TrainingRequest
from tests.clocks import FakeClock
from tests.fakes import FakeJobRunner, FakeModelRegistry, FakeScheduler

GRAPH: GraphSpec = pipeline_graph(PipelineConfig())
HOSTILE = "<script>alert('x')</script> & <b>bold</b>"
DATASET = DatasetRef("MORTGAGE_DATASET", "V1", ("Y",))


class Cells(HTMLParser):
    """(run id, task) -> the state classes of the grid's cells; every tag seen, to prove what the page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], str] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "td" and a.get("data-task") and a.get("data-run"):
            self.cells[(str(a["data-run"]), str(a["data-task"]))] = str(a.get("class"))


def parsed(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p


def t(
    name: str, state: TaskState, value: str | None = None, error: str | None = None, secs: float = 1
) -> TaskRun:
    start = FakeClock()()
    return TaskRun(
        f"{GRAPH.name}${name}".upper(), state, value, error, 1, start, start + timedelta(seconds=secs)
    )


def decision(outcome: Outcome) -> GateDecision:
    return GateDecision(
        outcome=outcome,
        successor="promote_model" if outcome is Outcome.PROMOTE else "send_alert",
        reasons=("floor: test_roc_auc 0.91 >= 0.8", "champion: none (first model)"),
        metric_name="test_roc_auc",
        threshold=0.8,
        comparison=">=",
        margin=0.0,
        candidate={"test_roc_auc": 0.91},
        champion=None,
        champion_version=None,
        guardrails=(),
    )


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.scheduler = FakeScheduler(self.clock)
        self.registry = FakeModelRegistry(self.clock)
        self.jobs = FakeJobRunner()
        self.live: dict[str, dict[str, str]] = {}

    def job(self) -> str:
        request = TrainingRequest(DATASET, DATASET, {}, 1, "V1", "DEMO_POOL", target_instances=2)
        return self.jobs.submit_training(request).id

    def add_run(self, run_id: str, state: GraphRunState, *tasks: TaskRun) -> GraphRun:
        self.clock.advance(minutes=5)
        start = self.clock()
        run = GraphRun(
            GRAPH.name,
            run_id,
            state,
            start,
            query_start_time=start,
            completed_time=start + timedelta(seconds=9),
            tasks=tasks,
        )
        self.scheduler.history.setdefault(GRAPH.name, []).insert(0, run)
        return run

    def promoted_run(self, run_id: str = "1001") -> GraphRun:
        job = self.job()
        run = self.add_run(
            run_id,
            GraphRunState.SUCCEEDED,
            t("prepare_data", TaskState.SUCCEEDED, json.dumps({"full": {"name": "D"}})),
            t(
                "train_model",
                TaskState.SUCCEEDED,
                json.dumps({"job_id": job, "metrics": {"test_roc_auc": 0.91}}),
            ),
            t("check_model_quality", TaskState.SUCCEEDED, "promote_model"),
            t("promote_model", TaskState.SUCCEEDED, "('MORTGAGE_MODEL', 'V1')"),
            t("send_alert", TaskState.SKIPPED),
            t("cleanup", TaskState.SUCCEEDED, "{}"),
        )
        self.registry.log_version(
            model_name="mortgage_model",
            version=model_version_for(run.scheduled_time),
            artifact=ModelArtifact("mem://m"),
            metrics={"test_roc_auc": 0.91, "train_f1": 0.88},
            dataset=DATASET,
            evidence={"gate": decision(Outcome.PROMOTE).to_json()},
        )
        self.registry.promote("mortgage_model", model_version_for(run.scheduled_time))
        return run

    def report(self, runs: int = 10) -> Report:
        return collect_report(
            graph=GRAPH,
            scheduler=self.scheduler,
            registry=self.registry,
            jobs=self.jobs,
            model_name="mortgage_model",
            runs=runs,
            instances=2,
            backend="simulator",
            location="home /tmp/h",
            now=self.clock,
            live=lambda graph, run_id: self.live.get(run_id),
        )

    def html(self, runs: int = 10) -> str:
        return render_html(self.report(runs))


@pytest.fixture
def world() -> World:
    return World()


def test_error_text_logs_and_return_values_are_shown_as_text_never_as_markup(world: World) -> None:
    world.jobs.head_log = HOSTILE  # the fake's job log, of every instance
    world.add_run(
        "2002",
        GraphRunState.FAILED,
        t("prepare_data", TaskState.SUCCEEDED, json.dumps({"note": HOSTILE})),
        t(
            "train_model",
            TaskState.FAILED,
            json.dumps({"job_id": world.job()}),
            error=f"JobFailed: {HOSTILE}\n  at line 3",
        ),
        t("cleanup", TaskState.SUCCEEDED),
    )
    html = world.html()
    assert "<script" not in html and "<b>" not in html
    assert (
        html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;") >= 4
    )  # error, value, 2 logs
    assert "JobFailed: &lt;script&gt;" in html and "at line 3" in html


def test_a_failed_tasks_traceback_and_log_are_shown_escaped_in_their_own_details(world: World) -> None:
    failed = replace(
        t("prepare_data", TaskState.FAILED, error="ValueError: bad rows"),
        error_traceback=f'Traceback (most recent call last):\n  File "tasks.py"\nValueError: {HOSTILE}',
        log=f"INFO reading rows\nprinted {HOSTILE}",
    )
    world.add_run("2003", GraphRunState.FAILED, failed, t("cleanup", TaskState.SUCCEEDED))

    html = world.html()

    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    assert "<script" not in html
    assert (
        '<details class="traceback"><summary>traceback</summary><pre class="error">Traceback (most recent call '
        f"last):\n  File &#34;tasks.py&#34;\nValueError: {escaped}</pre></details>"
    ) in html
    assert (
        f'<details class="task-log"><summary>task log</summary><pre>INFO reading rows\nprinted {escaped}</pre>'
        "</details>"
    ) in html


def test_a_failed_training_jobs_instance_logs_are_shown_from_the_job_its_error_names(world: World) -> None:
    job = world.job()
    world.add_run(
        "2004",
        GraphRunState.FAILED,
        t(
            "train_model",
            TaskState.FAILED,
            error=f"JobFailed: training job {job} failed: job {job} ended FAILED",
        ),
    )

    train = world.report().runs[0].task("train_model")

    assert train is not None and train.job_id == job and len(train.job_logs) == 2


def test_the_grid_has_a_cell_per_task_and_run_coloured_by_its_state(world: World) -> None:
    world.promoted_run("1001")
    world.add_run(
        "1002",
        GraphRunState.FAILED,
        t("prepare_data", TaskState.FAILED, error="no table"),
        t("train_model", TaskState.NOT_EXECUTED),
        t("cleanup", TaskState.CANCELLED),
    )
    cells = parsed(world.html()).cells
    assert cells[("1001", "send_alert")] == "cell state-SKIPPED"
    assert cells[("1001", "promote_model")] == "cell state-SUCCEEDED"
    assert cells[("1002", "prepare_data")] == "cell state-FAILED"
    assert cells[("1002", "train_model")] == "cell state-NOT_EXECUTED"
    assert cells[("1002", "cleanup")] == "cell state-CANCELLED"
    assert cells[("1002", "promote_model")] == "cell"  # no such task in that run: an empty cell
    assert len(cells) == 2 * len(GRAPH.tasks)


def test_runs_are_newest_first_and_limited_to_the_last_n(world: World) -> None:
    for run_id in ("1", "2", "3"):
        world.add_run(run_id, GraphRunState.SUCCEEDED, t("prepare_data", TaskState.SUCCEEDED))
    assert [r.run.run_id for r in world.report(runs=2).runs] == ["3", "2"]


def test_a_task_still_executing_is_shown_from_the_live_states(world: World) -> None:
    world.add_run("3003", GraphRunState.EXECUTING, t("prepare_data", TaskState.SUCCEEDED))
    world.live["3003"] = {"TRAIN_MODEL": "EXECUTING"}
    assert parsed(world.html()).cells[("3003", "train_model")] == "cell state-EXECUTING"


def test_a_promoted_run_states_the_chosen_branch_and_the_gate_evidence_stored_with_its_version(
    world: World,
) -> None:
    world.promoted_run()
    run = world.report().runs[0]
    assert run.chosen == {"check_model_quality": "promote_model"}
    assert run.gate == decision(Outcome.PROMOTE)
    html = world.html()
    assert "chose <strong>promote_model</strong>" in html
    assert "<li>floor: test_roc_auc 0.91 &gt;= 0.8</li>" in html


def test_an_alert_run_shows_what_the_alert_task_reported(world: World) -> None:
    summary = "ALERT: test_roc_auc = 0.5 (floor >= 0.8; no champion) -> send_alert"
    world.add_run(
        "4004",
        GraphRunState.SUCCEEDED,
        t("check_model_quality", TaskState.SUCCEEDED, "send_alert"),
        t("promote_model", TaskState.SKIPPED),
        t("send_alert", TaskState.SUCCEEDED, summary),
    )
    run = world.report().runs[0]
    assert (run.gate, run.gate_note) == (None, summary)
    assert 'class="edge unchosen" data-from="check_model_quality" data-to="promote_model"' in run.svg


def test_the_training_jobs_log_of_every_instance_is_shown(world: World) -> None:
    world.promoted_run()
    train = world.report().runs[0].task("train_model")
    assert train is not None and train.job_id is not None
    assert [(log.instance, log.text) for log in train.job_logs] == [
        (0, "ML job finished"),
        (1, "ML job finished"),
    ]
    assert f"job {train.job_id} · instance 1 log" in world.html()


def test_a_json_return_value_is_pretty_printed_and_any_other_shown_as_it_is(world: World) -> None:
    world.promoted_run()
    run = world.report().runs[0]
    assert run.task("prepare_data").return_value == '{\n  "full": {\n    "name": "D"\n  }\n}'  # type: ignore[union-attr]
    assert run.task("promote_model").return_value == "('MORTGAGE_MODEL', 'V1')"  # type: ignore[union-attr]


def test_models_show_every_metric_aliases_lineage_the_gate_and_the_run_that_logged_them(world: World) -> None:
    run = world.promoted_run("1001")
    (model,) = world.report().models
    assert model.source_run_id == "1001"
    assert model.gate is not None and model.gate.promote
    version = model_version_for(run.scheduled_time).upper()
    assert ("tr", {"data-version": version}) in parsed(world.html()).tags
    html = world.html()
    for text in (
        "<th>test_roc_auc</th>",
        "<th>train_f1</th>",
        "0.9100",
        "0.8800",
        "CHAMPION",
        "MORTGAGE_DATASET/V1",
        '<a href="#run-1001">1001</a>',
    ):
        assert text in html, text


def test_the_page_loads_nothing_from_elsewhere(world: World) -> None:
    world.promoted_run()
    tags = parsed(world.html()).tags
    assert not [tag for tag, _ in tags if tag in {"script", "link", "img", "iframe", "object"}]
    assert all(
        not str(a.get("href", "#")).split("#")[0] for tag, a in tags if tag == "a"
    )  # in-page anchors only


def test_an_empty_history_says_how_to_start_a_run(world: World) -> None:
    html = world.html()
    assert "No graph runs yet" in html and "No model versions yet" in html


def test_refresh_rewrites_the_page_only_when_a_run_started_or_changed_state(
    world: World, tmp_path: Path
) -> None:
    collected: list[int] = []

    def collect() -> Report:
        collected.append(1)
        return world.report()

    def signature() -> tuple[tuple[str, str], ...]:
        return tuple((r.run_id, str(r.state)) for r in world.scheduler.runs(GRAPH.name))

    page = ReportFile(tmp_path / "out" / "report.html", collect, signature)
    page.write()
    assert page.refresh() is False and len(collected) == 1
    run = world.add_run("5005", GraphRunState.EXECUTING)
    assert page.refresh() is True and len(collected) == 2
    world.scheduler.history[GRAPH.name][0] = replace(run, state=GraphRunState.SUCCEEDED)
    assert page.refresh() is True and len(collected) == 3
    assert "5005" in (tmp_path / "out" / "report.html").read_text()
    assert stat.S_IMODE((tmp_path / "out" / "report.html").stat().st_mode) == 0o644
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.html"]  # no temporary file left


def test_an_alert_that_returns_the_decision_as_json_shows_its_reasons(world: World) -> None:
    world.add_run(
        "4005",
        GraphRunState.SUCCEEDED,
        t("check_model_quality", TaskState.SUCCEEDED, "send_alert"),
        t(
            "send_alert",
            TaskState.SUCCEEDED,
            json.dumps({"gate": json.loads(decision(Outcome.ALERT).to_json())}),
        ),
    )
    run = world.report().runs[0]
    assert (run.gate, run.gate_note) == (decision(Outcome.ALERT), None)


def test_the_graph_run_stored_with_a_version_is_its_source_run(world: World) -> None:
    world.registry.log_version(
        model_name="mortgage_model",
        version="V20200101_000000",  # made by no run in the history
        artifact=ModelArtifact("mem://m"),
        metrics={},
        dataset=DATASET,
        evidence={"graph_run_id": "777"},
    )
    assert [m.source_run_id for m in world.report().models] == ["777"]
