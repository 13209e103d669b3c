"""A pipeline run killed after it promoted: the next start records its promotion and sends its failure notice."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.jobs.training import run_training
from adapters.simulator.notifications.integrations import IntegrationCatalog
from adapters.simulator.registry import SimModelRegistry
from adapters.simulator.taskgraph.store import CRASH_MESSAGE, PROCESS, GraphStore
from app.container import build_container
from app.settings import load_settings
from domain.config import PipelineConfig
from domain.names import model_version_for
from domain.pipeline import PROMOTE_MODEL
from domain.refs import DatasetRef
from tests.support.graph_runs import executing_run
from tests.support.training_data import request_for

GRAPH = "MORTGAGE_PIPELINE_CRASHED"
SCHEDULED = datetime(2026, 2, 10, 9, 28, 49, tzinfo=UTC)
VERSION = model_version_for(SCHEDULED).upper()


def _crashed_after_promoting(home: Path, monkeypatch: pytest.MonkeyPatch, cfg: PipelineConfig) -> None:
    """What a process killed right after promote_model leaves: its version is the default, its run EXECUTING."""
    with LocalAccount(home) as account:
        IntegrationCatalog(account).create_integration(
            cfg.notification_integration, type="EMAIL", default_recipients=["ml-team@example.com"]
        )
        outcome = run_training(request_for(account.files), account.files)
        assert outcome is not None
        registry = SimModelRegistry(account)
        registry.log_version(
            model_name=cfg.model_name,
            version=VERSION,
            artifact=outcome.artifact,
            metrics={"test_accuracy": 0.8},
            dataset=DatasetRef(cfg.dataset_name, "v1", label_cols=("MORTGAGERESPONSE",)),
        )
        registry.promote(cfg.model_name, VERSION)
        with monkeypatch.context() as crashed:
            crashed.setattr(PROCESS, "value", "token-of-the-killed-process")
            GraphStore(account).start_run(
                executing_run(GRAPH, run_id=7, scheduled=SCHEDULED, config=cfg.to_mapping())
            )


def test_a_killed_run_that_promoted_gets_its_promote_row_and_a_notice_naming_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, cfg = tmp_path / "home", PipelineConfig()
    _crashed_after_promoting(home, monkeypatch, cfg)

    container = build_container(load_settings(env={}, backend="simulator", home=home))
    try:
        op = container.dag_operation()
        history = {h.name: h for h in op.task_history(GRAPH)}
        [run] = op.graph_runs(GRAPH)
        box = mailbox.mbox(op.account.path("mail", f"{cfg.notification_integration.upper()}.mbox"))
        notices = [m.get_payload(decode=True).decode() for m in box]  # quoted-printable in the mbox
    finally:
        container.shutdown_resources()

    assert op.recovered_runs == 1 and run.state == "FAILED"
    promote = history[f"{GRAPH}${PROMOTE_MODEL.upper()}"]
    assert promote.state == "FAILED"
    assert promote.error_message == (
        f"{CRASH_MESSAGE}: it had made {cfg.model_name} version {VERSION} the default (CHAMPION)"
    )
    [notice] = notices
    assert f"Graph run: {run.run_id}" in notice
    assert f"The default version of {cfg.model_name} is {VERSION}." in notice
