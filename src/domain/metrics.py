"""Binary-classification metrics from 0/1 labels and probability scores, and their key names.

Metric keys are ``{split}_{metric}`` for the splits ``train`` and ``test`` (the guide's ``all`` key for recall
was a ``str.strip`` slip; here recall is ``test_recall``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from domain.errors import InvalidConfig, InvalidData

METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
SPLITS = ("train", "test")
ALL_METRIC_KEYS = tuple(f"{split}_{metric}" for split in SPLITS for metric in METRIC_NAMES)
LOWER_IS_BETTER = frozenset({"log_loss"})
LOG_LOSS_EPS = 1e-15


def base_metric(key: str) -> str:
    """The metric name of a plain (``recall``) or split-prefixed (``test_recall``) key."""
    name = key
    for split in SPLITS:
        if key.startswith(f"{split}_"):
            name = key[len(split) + 1 :]
            break
    if name not in METRIC_NAMES:
        raise InvalidConfig(
            f"unknown metric {key!r}; valid metrics: {', '.join(METRIC_NAMES)}, "
            f"optionally prefixed by a split: {', '.join(ALL_METRIC_KEYS)}"
        )
    return name


def higher_is_better(key: str) -> bool:
    """Whether a larger value of this metric is better (``False`` for ``log_loss``)."""
    return base_metric(key) not in LOWER_IS_BETTER


def prefixed(prefix: str, metrics: Mapping[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


def _as_vector(values: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"{what} must be numbers: {exc}") from exc
    if array.ndim != 1:
        raise InvalidData(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


def _average_ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks with ties given the mean of the ranks they span."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def binary_metrics(
    labels: npt.ArrayLike, scores: npt.ArrayLike, *, threshold: float = 0.5
) -> dict[str, float]:
    """accuracy, precision, recall, f1, roc_auc and log_loss of scores against 0/1 labels.

    A row is predicted positive when its score is strictly above ``threshold`` (as the guide's
    ``predict(...) > 0.5``). Edge cases have defined results:

    - empty input: every metric is NaN;
    - one class only in the labels: roc_auc is NaN (undefined);
    - nothing predicted positive: precision is 0.0; no positive labels: recall is 0.0; precision + recall = 0:
      f1 is 0.0 (sklearn's ``zero_division=0``);
    - log_loss clips scores to ``[1e-15, 1 - 1e-15]``;
    - roc_auc is the Mann-Whitney statistic with average ranks, so tied scores count one half.

    Raises ``InvalidData`` for labels other than 0/1 (NaN included), scores outside ``[0, 1]`` or NaN, and
    labels and scores of different lengths.
    """
    y = _as_vector(labels, "labels")
    p = _as_vector(scores, "scores")
    if y.shape != p.shape:
        raise InvalidData(f"labels ({y.size} rows) and scores ({p.size} rows) differ in length")
    bad_labels = ~((y == 0) | (y == 1))
    if bad_labels.any():
        raise InvalidData(
            f"labels must be 0 or 1; found {np.unique(y[bad_labels])[:5].tolist()} "
            f"in {int(bad_labels.sum())} rows"
        )
    bad_scores = ~((p >= 0) & (p <= 1))  # NaN fails both comparisons
    if bad_scores.any():
        raise InvalidData(
            f"scores must be probabilities in [0, 1]; found {np.unique(p[bad_scores])[:5].tolist()} "
            f"in {int(bad_scores.sum())} rows"
        )
    if not math.isfinite(threshold) or not 0 <= threshold <= 1:
        raise InvalidConfig(f"threshold {threshold!r} must be in [0, 1]")
    if y.size == 0:
        return dict.fromkeys(METRIC_NAMES, math.nan)

    positive = y == 1
    predicted = p > threshold
    tp = float(np.count_nonzero(positive & predicted))
    n_pos = float(np.count_nonzero(positive))
    n_neg = float(y.size) - n_pos
    precision = _ratio(tp, float(np.count_nonzero(predicted)))
    recall = _ratio(tp, n_pos)
    if n_pos and n_neg:
        rank_sum = float(_average_ranks(p)[positive].sum())
        roc_auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    else:
        roc_auc = math.nan
    clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    log_loss = -float(np.mean(np.where(positive, np.log(clipped), np.log1p(-clipped))))
    return {
        "accuracy": float(np.count_nonzero(positive == predicted)) / y.size,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "roc_auc": roc_auc,
        "log_loss": log_loss,
    }
