"""The quality gate: each rule, the successor it returns and the evidence it keeps."""

from __future__ import annotations

import json
import math

from domain.config import Comparison, PipelineConfig
from domain.gating import GateDecision, Outcome, evaluate_gate

CFG = PipelineConfig(metric_name="test_accuracy", metric_threshold=0.7, guardrails=(("test_roc_auc", 0.05),))
GOOD = {"test_accuracy": 0.8, "test_roc_auc": 0.9}


def test_first_run_above_the_floor_promotes_on_the_floor_alone() -> None:
    decision = evaluate_gate(CFG, GOOD)
    assert decision.outcome is Outcome.PROMOTE and decision.promote
    assert decision.successor == "promote_model"
    assert any("no champion: floor only" in r for r in decision.reasons)


def test_below_the_floor_alerts_with_the_numbers_in_the_reason() -> None:
    decision = evaluate_gate(CFG, {**GOOD, "test_accuracy": 0.65})
    assert decision.successor == "send_alert"
    assert "test_accuracy 0.65 fails the floor: >= 0.7." in decision.reasons


def test_successor_names_are_the_configured_task_names() -> None:
    assert evaluate_gate(CFG, GOOD, promote_task="PROMOTE", alert_task="ALERT").successor == "PROMOTE"
    assert evaluate_gate(CFG, {}, promote_task="PROMOTE", alert_task="ALERT").successor == "ALERT"


def test_value_on_the_threshold_promotes_under_ge_and_not_under_gt() -> None:
    on_floor = {**GOOD, "test_accuracy": 0.7}
    assert evaluate_gate(CFG, on_floor).promote
    assert not evaluate_gate(PipelineConfig(comparison=Comparison.GT), on_floor).promote


def test_regression_beyond_the_margin_alerts() -> None:
    decision = evaluate_gate(CFG, GOOD, {"test_accuracy": 0.85, "test_roc_auc": 0.9}, champion_version="v1")
    assert not decision.promote
    assert any("no-regression" in r and "0.85" in r for r in decision.reasons)


def test_regression_within_the_margin_promotes() -> None:
    cfg = PipelineConfig(champion_margin=0.1)
    assert evaluate_gate(cfg, GOOD, {"test_accuracy": 0.85, "test_roc_auc": 0.9}).promote


def test_guardrail_drop_beyond_tolerance_alerts() -> None:
    decision = evaluate_gate(CFG, GOOD, {"test_accuracy": 0.75, "test_roc_auc": 0.96})
    assert not decision.promote
    assert any("guardrail" in r and "test_roc_auc" in r for r in decision.reasons)


def test_guardrail_drop_within_tolerance_promotes() -> None:
    assert evaluate_gate(CFG, GOOD, {"test_accuracy": 0.75, "test_roc_auc": 0.94}).promote


def test_missing_primary_metric_never_promotes_and_is_named() -> None:
    decision = evaluate_gate(CFG, {"test_roc_auc": 0.9})
    assert not decision.promote
    assert any("test_accuracy is missing" in r for r in decision.reasons)


def test_nan_guardrail_metric_of_the_candidate_never_promotes() -> None:
    decision = evaluate_gate(CFG, {**GOOD, "test_roc_auc": math.nan})
    assert not decision.promote
    assert any("test_roc_auc is NaN" in r for r in decision.reasons)


def test_nan_champion_metric_makes_that_comparison_not_applicable() -> None:
    decision = evaluate_gate(CFG, GOOD, {"test_accuracy": math.nan, "test_roc_auc": 0.9})
    assert decision.promote
    assert any("champion's test_accuracy is NaN" in r and "does not apply" in r for r in decision.reasons)


def test_lower_is_better_primary_metric() -> None:
    cfg = PipelineConfig(metric_name="test_log_loss", metric_threshold=0.5, guardrails=())
    assert evaluate_gate(cfg, {"test_log_loss": 0.4}).promote
    assert not evaluate_gate(cfg, {"test_log_loss": 0.6}).promote
    assert not evaluate_gate(cfg, {"test_log_loss": 0.4}, {"test_log_loss": 0.3}).promote


def test_decision_round_trips_through_json_with_nan() -> None:
    decision = evaluate_gate(
        CFG, {**GOOD, "test_f1": math.nan}, {"test_accuracy": math.nan}, champion_version="v1"
    )
    text = decision.to_json()
    assert json.loads(text)["candidate"]["test_f1"] is None  # JSON has no NaN: it travels as null
    back = GateDecision.from_json(text)
    assert math.isnan(back.candidate["test_f1"]) and math.isnan(back.champion["test_accuracy"])  # type: ignore[index]
    assert back.to_json() == text
    assert (back.outcome, back.successor, back.reasons) == (
        decision.outcome,
        decision.successor,
        decision.reasons,
    )


def test_summary_names_metric_value_threshold_champion_and_outcome() -> None:
    decision = evaluate_gate(
        CFG, GOOD, {"test_accuracy": 0.85, "test_roc_auc": 0.9}, champion_version="v20250101_000000"
    )
    assert decision.summary() == (
        "ALERT: test_accuracy = 0.8 (floor >= 0.7; champion v20250101_000000 = 0.85, margin 0) -> send_alert"
    )
