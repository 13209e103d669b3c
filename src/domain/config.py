"""The pipeline's policy as frozen, validated value objects.

A Snowflake graph config is a flat JSON object of strings, numbers and booleans (dagv1 rejects nested
values), so every key here is flat: guardrails travel as the string ``"test_roc_auc:0.05,test_f1:0.1"``.
Values typed by a user (CLI ``--config metric_threshold=0.8``, environment variables) arrive as strings
and are coerced; anything unknown, ill-typed or out of range is refused with the key, the value and what is
valid — the guide silently dropped unknown keys; we don't.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import InvalidConfig, InvalidName
from domain.metrics import ALL_METRIC_KEYS, LOWER_IS_BETTER, base_metric
from domain.names import DEFAULT_NAMES, model_version_for, normalize_identifier, normalize_qualified

DEPLOYMENT_PREFIX = "deployment."  # graph-config keys that name where the graph was deployed

ConfigValue = str | int | float | bool
Guardrails = tuple[tuple[str, float], ...]

OBJECTIVES = ("binary:logistic", "reg:logistic")  # the ones whose predictions are probabilities
BOOSTERS = ("gbtree", "dart", "gblinear")


class Comparison(StrEnum):
    """How a metric meets a bound: one rule used everywhere (the guide mixed ``>=`` and ``>``)."""

    GE = ">="
    GT = ">"

    def passes(self, value: float, threshold: float, higher_is_better: bool) -> bool:
        """Whether ``value`` is as good as (GE) or better than (GT) ``threshold``; NaN never passes."""
        if math.isnan(value) or math.isnan(threshold):
            return False
        a, b = (value, threshold) if higher_is_better else (threshold, value)
        return a >= b if self is Comparison.GE else a > b


def _to_guardrails(key: str, value: object) -> Guardrails:
    if isinstance(value, str):
        items: list[Any] = [item.split(":", 1) for item in value.split(",") if item.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidConfig(
            f"{key}={value!r} must be a string 'test_roc_auc:0.05,test_f1:0.1' or a sequence of "
            f"(metric, tolerance) pairs"
        )
    pairs: list[tuple[str, float]] = []
    for item in items:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise InvalidConfig(f"guardrail {item!r} must be 'metric:tolerance', e.g. 'test_roc_auc:0.05'")
        key, tolerance = item
        pairs.append((str(key).strip(), _to_float(f"guardrail {key}", tolerance)))
    return tuple(pairs)


def _guardrails_text(guardrails: Guardrails) -> str:
    return ",".join(f"{key}:{tolerance!r}" for key, tolerance in guardrails)


def _to_float(key: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise InvalidConfig(f"{key}={value!r} must be a number, e.g. {key}=0.8")


def _to_int(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,18}", value.strip()):
        return int(value)
    raise InvalidConfig(f"{key}={value!r} must be a whole number, e.g. {key}=3")


_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def _to_bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidConfig(f"{key}={value!r} must be a boolean: true or false")


def _to_str(key: str, value: object) -> str:
    if isinstance(value, str):
        return value
    raise InvalidConfig(f"{key}={value!r} must be a string")


def _to_comparison(key: str, value: object) -> Comparison:
    if isinstance(value, Comparison):
        return value
    if isinstance(value, str):
        text = value.strip()
        for member in Comparison:
            if text in (member.value, member.name, member.name.lower()):
                return member
    raise InvalidConfig(f"{key}={value!r} must be one of '>=' (GE) or '>' (GT)")


def _range_error(key: str, value: object, valid: str) -> InvalidConfig:
    return InvalidConfig(f"{key}={value!r} is out of range; valid: {valid}")


def _check_range(key: str, value: float, low: float, high: float, valid: str) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise _range_error(key, value, valid)


@dataclass(frozen=True)
class PipelineConfig:
    """The graph config every task reads; defaults are the guide's values."""

    dataset_name: str = "mortgage_dataset"
    model_name: str = "mortgage_model"
    source_table: str = DEFAULT_NAMES.source_table
    metric_name: str = "test_accuracy"
    metric_threshold: float = 0.7
    comparison: Comparison = Comparison.GE
    champion_margin: float = 0.0  # how much worse than the champion the candidate may be, in metric units
    guardrails: Guardrails = (("test_roc_auc", 0.05),)  # (metric key, tolerated drop vs the champion)
    expiry_days: int = 7
    test_fraction: float = 0.2
    notification_integration: str = DEFAULT_NAMES.notification_integration
    compute_pool: str = DEFAULT_NAMES.compute_pool
    target_instances: int = 2
    n_estimators: int = 3
    max_depth: int = 50
    learning_rate: float = 0.75
    objective: str = "binary:logistic"
    booster: str = "gbtree"
    job_timeout_seconds: int = 3600
    notify_on_promotion: bool = True

    def __post_init__(self) -> None:
        # One coercion path for the constructor and from_mapping: typed values pass through unchanged.
        for f in fields(self):
            object.__setattr__(self, f.name, _COERCE[f.name](f.name, getattr(self, f.name)))
        for name in (
            "dataset_name",
            "model_name",
            "notification_integration",
            "compute_pool",
            "source_table",
        ):
            _check_name(name, getattr(self, name))
        self._check_metrics()
        _check_range("champion_margin", self.champion_margin, 0, math.inf, "a number >= 0")
        _check_range("expiry_days", self.expiry_days, 0, 3650, "0 to 3650 days")
        if not (math.isfinite(self.test_fraction) and 0 < self.test_fraction < 1):
            raise _range_error("test_fraction", self.test_fraction, "strictly between 0 and 1")
        _check_range("target_instances", self.target_instances, 1, 64, "1 to 64")
        _check_range("n_estimators", self.n_estimators, 1, 100_000, "1 to 100000")
        _check_range("max_depth", self.max_depth, 1, 1000, "1 to 1000")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1):
            raise _range_error("learning_rate", self.learning_rate, "greater than 0, at most 1")
        if self.objective not in OBJECTIVES:
            raise _range_error("objective", self.objective, " or ".join(OBJECTIVES))
        if self.booster not in BOOSTERS:
            raise _range_error("booster", self.booster, ", ".join(BOOSTERS))
        _check_range("job_timeout_seconds", self.job_timeout_seconds, 1, math.inf, "a whole number >= 1")

    def _check_metrics(self) -> None:
        _check_metric_key("metric_name", self.metric_name)
        if base_metric(self.metric_name) in LOWER_IS_BETTER:
            _check_range(
                "metric_threshold",
                self.metric_threshold,
                0,
                math.inf,
                f"a number >= 0 for {self.metric_name}",
            )
        else:
            _check_range("metric_threshold", self.metric_threshold, 0, 1, f"0 to 1 for {self.metric_name}")
        seen: set[str] = set()
        for key, tolerance in self.guardrails:
            _check_metric_key("guardrails", key)
            if key in seen:
                raise InvalidConfig(f"guardrails list {key!r} twice; give each metric one tolerance")
            seen.add(key)
            _check_range(f"guardrail {key}", tolerance, 0, math.inf, "a tolerance >= 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> PipelineConfig:
        """Build from a flat mapping (graph config, CLI ``key=value``, env); strict on keys and types."""
        if not isinstance(data, Mapping):
            raise InvalidConfig(
                f"pipeline config must be a mapping of key to value, got {type(data).__name__}"
            )
        for key in data:
            if key not in _COERCE:
                raise InvalidConfig(_unknown_key_message(key))
        values: dict[str, Any] = dict(data)  # each value is coerced and checked in __post_init__
        return cls(**values)

    def to_mapping(self) -> dict[str, ConfigValue]:
        """The flat form a graph config holds; ``from_mapping(to_mapping())`` gives back an equal config."""
        out: dict[str, ConfigValue] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "guardrails":
                out[f.name] = _guardrails_text(value)
            elif isinstance(value, Comparison):
                out[f.name] = value.value
            else:
                out[f.name] = value
        return out

    def with_overrides(self, overrides: Mapping[str, object]) -> PipelineConfig:
        return PipelineConfig.from_mapping({**self.to_mapping(), **overrides})

    def xgboost_params(self) -> dict[str, Any]:
        """Parameters for ``xgboost.train`` (the number of rounds is ``num_boost_round``)."""
        return {
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "objective": self.objective,
            "booster": self.booster,
        }

    @property
    def num_boost_round(self) -> int:
        return self.n_estimators


def _check_name(key: str, value: str) -> None:
    try:
        if key == "source_table":
            normalize_qualified(value, "table")
        else:
            normalize_identifier(value, key.removesuffix("_name"))
    except InvalidName as exc:
        raise InvalidName(f"{key}={value!r} is not a valid name: {exc}") from exc


def _check_metric_key(key: str, value: str) -> None:
    if value in ALL_METRIC_KEYS:
        return
    hint = ""
    if value.endswith("_all"):
        hint = f" (the guide's '{value}' is recall: use '{value[: -len('all')]}recall')"
    else:
        close = difflib.get_close_matches(value, ALL_METRIC_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidConfig(f"{key}={value!r} is not a metric key{hint}; valid: {', '.join(ALL_METRIC_KEYS)}")


def _unknown_key_message(key: object) -> str:
    close = difflib.get_close_matches(str(key), list(_COERCE), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown config key {key!r}{hint}; valid keys: {', '.join(_COERCE)}"


_COERCE: dict[str, Callable[[str, object], Any]] = {
    "dataset_name": _to_str,
    "model_name": _to_str,
    "source_table": _to_str,
    "metric_name": _to_str,
    "metric_threshold": _to_float,
    "comparison": _to_comparison,
    "champion_margin": _to_float,
    "guardrails": _to_guardrails,
    "expiry_days": _to_int,
    "test_fraction": _to_float,
    "notification_integration": _to_str,
    "compute_pool": _to_str,
    "target_instances": _to_int,
    "n_estimators": _to_int,
    "max_depth": _to_int,
    "learning_rate": _to_float,
    "objective": _to_str,
    "booster": _to_str,
    "job_timeout_seconds": _to_int,
    "notify_on_promotion": _to_bool,
}


@dataclass(frozen=True)
class RunConfig:
    """One graph run's view of the config: the policy plus the model version every task of the run agrees on.

    Keys under ``deployment.`` are not policy: they record where the graph was deployed (database, schema,
    warehouse… as names), so that tasks running inside the backend build their adapters on the same objects.
    """

    model_version: str
    pipeline: PipelineConfig
    deployment: Mapping[str, str] = field(default_factory=dict)
    graph_run_id: str | None = None  # the task graph run's RUN_ID; None when run in-process (``run``)

    @classmethod
    def from_graph(
        cls, config: Mapping[str, object], scheduled_time: datetime, *, graph_run_id: str | None = None
    ) -> RunConfig:
        """``model_version`` is the run's original scheduled time as ``vYYYYmmdd_HHMMSS``; it is never configured.

        A ``run_id`` key is refused with that reason: it was this value's name before the rename.
        """
        if "run_id" in config:
            raise InvalidConfig(
                f"run_id={config['run_id']!r} may not be configured: it is derived from the graph run's "
                f"scheduled time as vYYYYmmdd_HHMMSS"
            )
        deployment: dict[str, str] = {}
        policy: dict[str, object] = {}
        for key, value in config.items():
            if key.startswith(DEPLOYMENT_PREFIX):
                if not isinstance(value, str):
                    raise InvalidConfig(f"{key}={value!r}: deployment entries are object names (strings)")
                deployment[key.removeprefix(DEPLOYMENT_PREFIX)] = value
            else:
                policy[key] = value
        return cls(
            model_version=model_version_for(scheduled_time),
            pipeline=PipelineConfig.from_mapping(policy),
            deployment=deployment,
            graph_run_id=graph_run_id,
        )
