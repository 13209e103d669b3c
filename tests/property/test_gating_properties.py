"""Properties of the quality gate that must hold for every config and every set of metrics.

Values are drawn on a grid of multiples of 1/64 so that sums, differences and ``1 - x`` are exact in binary
floating point, which makes boundary cases reachable and the mirror image of a metric exact.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from hypothesis import assume, given
from hypothesis import strategies as st

from domain.config import Comparison, PipelineConfig
from domain.gating import evaluate_gate
from domain.metrics import higher_is_better

KEYS = ("test_accuracy", "test_f1", "test_roc_auc", "test_log_loss")
grid = st.integers(min_value=0, max_value=64).map(lambda k: k / 64)
small = st.integers(min_value=0, max_value=8).map(lambda k: k / 64)


@st.composite
def configs(draw: st.DrawFn, metric: str | None = None) -> PipelineConfig:
    metric_name = metric or draw(st.sampled_from(KEYS))
    guard_keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=3))
    return PipelineConfig(
        metric_name=metric_name,
        metric_threshold=draw(grid),
        comparison=draw(st.sampled_from(Comparison)),
        champion_margin=draw(small),
        guardrails=tuple((k, draw(small)) for k in guard_keys),
    )


metric_sets = st.fixed_dictionaries({k: grid for k in KEYS})
champions = st.one_of(st.none(), metric_sets)


@given(configs(), metric_sets, champions)
def test_a_better_primary_value_promotes_whenever_a_worse_one_does(
    cfg: PipelineConfig, candidate: dict[str, float], champion: dict[str, float] | None
) -> None:
    # Sweep the primary metric over the whole grid, worst to best: once it promotes, it keeps promoting.
    # (When the primary is also a guardrail, improving it helps both rules, so this still holds.)
    values = sorted((k / 64 for k in range(65)), reverse=not higher_is_better(cfg.metric_name))
    promotes = [evaluate_gate(cfg, {**candidate, cfg.metric_name: v}, champion).promote for v in values]
    first = promotes.index(True) if True in promotes else len(promotes)
    assert all(promotes[first:])


@given(configs(), metric_sets, champions, st.data())
def test_a_nan_or_missing_candidate_metric_never_promotes(
    cfg: PipelineConfig, candidate: dict[str, float], champion: dict[str, float] | None, data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from([cfg.metric_name, *(g for g, _ in cfg.guardrails)]))
    if data.draw(st.booleans()):
        broken = {**candidate, key: math.nan}
    else:
        broken = {k: v for k, v in candidate.items() if k != key}
    decision = evaluate_gate(cfg, broken, champion)
    assert not decision.promote
    assert decision.successor == "send_alert"


def worse_than(reference: float, allowance: float, excess: float, key: str) -> float:
    """A value worse than ``reference`` by ``allowance + excess``, in the metric's direction."""
    return reference - allowance - excess if higher_is_better(key) else reference + allowance + excess


@given(configs(), metric_sets, metric_sets, small.filter(bool))
def test_never_promotes_a_candidate_worse_than_the_champion_beyond_the_margin(
    cfg: PipelineConfig, candidate: dict[str, float], champion: dict[str, float], excess: float
) -> None:
    key = cfg.metric_name
    value = worse_than(champion[key], cfg.champion_margin, excess, key)
    assume(0 <= value <= 1)
    assert not evaluate_gate(cfg, {**candidate, key: value}, champion).promote


@given(configs(), metric_sets)
def test_a_value_equal_to_the_threshold_promotes_under_ge_only(
    cfg: PipelineConfig, candidate: dict[str, float]
) -> None:
    on_threshold = {**candidate, cfg.metric_name: cfg.metric_threshold}
    assert evaluate_gate(cfg, on_threshold).promote is (cfg.comparison is Comparison.GE)


@given(configs(), metric_sets, metric_sets)
def test_a_value_equal_to_the_champion_bound_promotes_under_ge_only(
    cfg: PipelineConfig, candidate: dict[str, float], champion: dict[str, float]
) -> None:
    key, higher = cfg.metric_name, higher_is_better(cfg.metric_name)
    bound = champion[key] - cfg.champion_margin if higher else champion[key] + cfg.champion_margin
    easiest_floor = 0.0 if higher else 1.0
    if not 0 <= bound <= 1 or (cfg.comparison is Comparison.GT and bound == easiest_floor):
        return  # the floor itself would decide at this bound
    only_champion = replace(cfg, metric_threshold=easiest_floor, guardrails=())
    at_bound = {**candidate, key: bound}
    assert evaluate_gate(only_champion, at_bound, champion).promote is (cfg.comparison is Comparison.GE)


@given(configs(), metric_sets, metric_sets, small.filter(bool), st.data())
def test_a_guardrail_worse_than_the_champion_beyond_its_tolerance_never_promotes(
    cfg: PipelineConfig,
    candidate: dict[str, float],
    champion: dict[str, float],
    excess: float,
    data: st.DataObject,
) -> None:
    assume(cfg.guardrails)
    key, tolerance = data.draw(st.sampled_from(cfg.guardrails))
    value = worse_than(champion[key], tolerance, excess, key)
    assume(0 <= value <= 1)
    assert not evaluate_gate(cfg, {**candidate, key: value}, champion).promote


@given(configs(), metric_sets, champions, st.randoms(use_true_random=False))
def test_the_order_of_metrics_does_not_change_the_decision(
    cfg: PipelineConfig, candidate: dict[str, float], champion: dict[str, float] | None, rnd: random.Random
) -> None:
    def shuffled(metrics: dict[str, float]) -> dict[str, float]:
        items = list(metrics.items())
        rnd.shuffle(items)
        return dict(items)

    first = evaluate_gate(cfg, candidate, champion)
    second = evaluate_gate(cfg, shuffled(candidate), None if champion is None else shuffled(champion))
    assert first == second
    assert first.to_json() == second.to_json()
    assert list(first.candidate) == list(second.candidate)


@given(configs(metric="test_log_loss"), metric_sets, champions)
def test_lower_is_better_mirrors_higher_is_better(
    cfg: PipelineConfig, candidate: dict[str, float], champion: dict[str, float] | None
) -> None:
    # log_loss x against threshold t decides like accuracy 1 - x against threshold 1 - t.
    mirrored_cfg = PipelineConfig(
        metric_name="test_accuracy",
        metric_threshold=1 - cfg.metric_threshold,
        comparison=cfg.comparison,
        champion_margin=cfg.champion_margin,
        guardrails=(),
    )
    plain_cfg = replace(cfg, guardrails=())

    def mirror(metrics: dict[str, float]) -> dict[str, float]:
        return {"test_accuracy": 1 - metrics["test_log_loss"]}

    mirrored_champion = None if champion is None else mirror(champion)
    assert (
        evaluate_gate(plain_cfg, candidate, champion).promote
        is evaluate_gate(mirrored_cfg, mirror(candidate), mirrored_champion).promote
    )
