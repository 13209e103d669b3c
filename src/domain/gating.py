"""The quality gate: promote the candidate model or alert, with the reasons and the evidence.

All of these must hold to promote:

(a) floor — the primary metric meets ``metric_threshold`` under the configured comparison, in the metric's
    direction (``log_loss``: lower is better);
(b) no regression — with a champion, the candidate is not worse than the champion's value by more than
    ``champion_margin`` (the same comparison rule, so under ``>`` the boundary is excluded here too);
(c) guardrails — with a champion, each guardrail metric is not worse than the champion's by more than its
    tolerance;
(d) a NaN or missing candidate metric — primary or guardrail — never promotes, champion or not. A NaN or
    missing *champion* metric makes that one comparison not applicable (said in the reasons), so a broken
    champion can never block promotion forever.

The decision depends only on the values, never on the order of keys in the mappings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.config import Comparison, PipelineConfig
from domain.errors import InvalidData
from domain.metrics import higher_is_better


class Outcome(StrEnum):
    PROMOTE = "promote"
    ALERT = "alert"


def _fmt(value: float | None) -> str:
    return "missing" if value is None else "NaN" if math.isnan(value) else f"{value:.6g}"


def _encode(metrics: Mapping[str, float]) -> dict[str, float | None]:
    return {k: None if math.isnan(v) else v for k, v in sorted(metrics.items())}


def _decode(metrics: Mapping[str, float | None]) -> dict[str, float]:
    return {k: math.nan if v is None else float(v) for k, v in sorted(metrics.items())}


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided and why.

    ``to_json`` encodes NaN metric values as ``null`` (JSON has no NaN); ``from_json`` reads them back as NaN.
    """

    outcome: Outcome
    successor: str
    reasons: tuple[str, ...]
    metric_name: str
    threshold: float
    comparison: str
    margin: float
    candidate: Mapping[str, float]
    champion: Mapping[str, float] | None
    champion_version: str | None
    guardrails: tuple[tuple[str, float], ...]

    @property
    def promote(self) -> bool:
        return self.outcome is Outcome.PROMOTE

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON values (what ``to_json`` writes), to nest in a larger JSON document."""
        return {
            "outcome": self.outcome.value,
            "successor": self.successor,
            "reasons": list(self.reasons),
            "metric_name": self.metric_name,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "margin": self.margin,
            "candidate": _encode(self.candidate),
            "champion": None if self.champion is None else _encode(self.champion),
            "champion_version": self.champion_version,
            "guardrails": [list(g) for g in self.guardrails],
        }

    @classmethod
    def from_json(cls, text: str) -> GateDecision:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateDecision:
        return cls(
            outcome=Outcome(data["outcome"]),
            successor=data["successor"],
            reasons=tuple(data["reasons"]),
            metric_name=data["metric_name"],
            threshold=float(data["threshold"]),
            comparison=data["comparison"],
            margin=float(data["margin"]),
            candidate=_decode(data["candidate"]),
            champion=None if data["champion"] is None else _decode(data["champion"]),
            champion_version=data["champion_version"],
            guardrails=tuple((str(k), float(t)) for k, t in data["guardrails"]),
        )

    def summary(self) -> str:
        """One line for notifications: metric, value, floor, champion and the outcome."""
        value = _fmt(self.candidate.get(self.metric_name))
        line = (
            f"{self.outcome.value.upper()}: {self.metric_name} = {value} "
            f"(floor {self.comparison} {_fmt(self.threshold)}"
        )
        if self.champion is None:
            line += "; no champion"
        else:
            line += (
                f"; champion {self.champion_version} = {_fmt(self.champion.get(self.metric_name))}, "
                f"margin {_fmt(self.margin)}"
            )
        return f"{line}) -> {self.successor}"

    def explained(self) -> str:
        """Two lines for people: the summary (floor, champion), then why: every rule's sentence (guardrails, NaN)."""
        return f"{self.summary()}\n  why: {' '.join(self.reasons)}"


def _metric(metrics: Mapping[str, float], key: str, whose: str) -> float | None:
    """The value of ``key``, NaN for a null value, None when absent."""
    if key not in metrics:
        return None
    value = metrics[key]
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"{whose} metric {key}={value!r} is not a number") from exc


def _evidence(metrics: Mapping[str, float], whose: str) -> dict[str, float]:
    """A sorted copy with every value a float (null read as NaN), so evidence never depends on key order."""
    return {k: value for k in sorted(metrics) if (value := _metric(metrics, k, whose)) is not None}


def _bound(reference: float, allowance: float, higher: bool) -> float:
    """The worst value still acceptable: ``allowance`` worse than ``reference``, in the metric's direction."""
    return reference - allowance if higher else reference + allowance


class _Gate:
    """Collects the outcome of each rule as a full sentence."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self.reasons: list[str] = []
        self.passed = True

    def fail(self, reason: str) -> None:
        self.passed = False
        self.reasons.append(reason)

    def candidate_value(self, candidate: Mapping[str, float], key: str, role: str) -> float | None:
        value = _metric(candidate, key, "candidate")
        if value is None or math.isnan(value):
            self.fail(
                f"The candidate's {role} metric {key} is {_fmt(value)}; missing or NaN metrics never promote."
            )
            return None
        return value

    def check(self, key: str, value: float, bound: float, what: str) -> None:
        direction = "" if higher_is_better(key) else " (lower is better)"
        ok = self.comparison.passes(value, bound, higher_is_better(key))
        verdict = "meets" if ok else "fails"
        sentence = f"{key} {_fmt(value)} {verdict} {what}: {self.comparison.value} {_fmt(bound)}{direction}."
        if ok:
            self.reasons.append(sentence)
        else:
            self.fail(sentence)

    def against_champion(
        self, key: str, value: float | None, champion: Mapping[str, float], allowance: float, what: str
    ) -> None:
        reference = _metric(champion, key, "champion")
        if reference is None or math.isnan(reference):
            self.reasons.append(
                f"The champion's {key} is {_fmt(reference)}, so the {what} check on {key} does not apply."
            )
        elif value is not None:
            self.check(
                key,
                value,
                _bound(reference, allowance, higher_is_better(key)),
                f"the {what} bound (champion {_fmt(reference)}, allowed drop {_fmt(allowance)})",
            )


def evaluate_gate(
    config: PipelineConfig,
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None = None,
    *,
    champion_version: str | None = None,
    promote_task: str = "promote_model",
    alert_task: str = "send_alert",
) -> GateDecision:
    """Decide promote or alert for ``candidate`` against the config's floor and the current champion."""
    key = config.metric_name
    gate = _Gate(config.comparison)
    value = gate.candidate_value(candidate, key, "primary")
    guarded = {g: gate.candidate_value(candidate, g, "guardrail") for g, _ in config.guardrails}
    if value is not None:
        gate.check(key, value, config.metric_threshold, "the floor")
    if champion is None:
        gate.reasons.append(
            "There is no champion: floor only; the no-regression and guardrail comparisons are skipped."
        )
    else:
        gate.against_champion(key, value, champion, config.champion_margin, "no-regression")
        for g, tolerance in config.guardrails:
            gate.against_champion(g, guarded[g], champion, tolerance, "guardrail")
    outcome = Outcome.PROMOTE if gate.passed else Outcome.ALERT
    return GateDecision(
        outcome=outcome,
        successor=promote_task if gate.passed else alert_task,
        reasons=tuple(gate.reasons),
        metric_name=key,
        threshold=config.metric_threshold,
        comparison=config.comparison.value,
        margin=config.champion_margin,
        candidate=_evidence(candidate, "candidate"),
        champion=None if champion is None else _evidence(champion, "champion"),
        champion_version=champion_version,
        guardrails=config.guardrails,
    )
