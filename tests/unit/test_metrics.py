"""Binary metrics against hand-computed values, their edge cases, and metric key names."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domain.errors import InvalidConfig, InvalidData
from domain.metrics import ALL_METRIC_KEYS, METRIC_NAMES, binary_metrics, higher_is_better, prefixed


def test_metrics_of_a_small_hand_computed_example() -> None:
    # Predictions at 0.5: [0, 0, 0, 1] against [0, 0, 1, 1] -> TP=1, FP=0, FN=1, TN=2.
    # Ranks of scores 0.1, 0.4, 0.35, 0.8 are 1, 3, 2, 4; positives' rank sum 6 -> AUC (6 - 3) / 4 = 0.75.
    m = binary_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    expected_log_loss = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert m == pytest.approx(
        {
            "accuracy": 0.75,
            "precision": 1.0,
            "recall": 0.5,
            "f1": 2 / 3,
            "roc_auc": 0.75,
            "log_loss": expected_log_loss,
        }
    )


def test_a_score_equal_to_the_threshold_is_predicted_negative() -> None:
    m = binary_metrics([1, 0], [0.5, 0.2])
    assert m["recall"] == 0.0 and m["accuracy"] == 0.5


def test_tied_scores_count_one_half_in_roc_auc() -> None:
    # Every positive ties every negative: AUC = 0.5.
    assert binary_metrics([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3])["roc_auc"] == 0.5


def test_partially_tied_scores_use_average_ranks() -> None:
    # Scores 0.2, 0.5, 0.5, 0.9 have ranks 1, 2.5, 2.5, 4; positives are 0.5 and 0.9 -> (6.5 - 3) / 4.
    assert binary_metrics([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9])["roc_auc"] == 0.875


def test_empty_input_gives_nan_for_every_metric() -> None:
    m = binary_metrics([], [])
    assert set(m) == set(METRIC_NAMES)
    assert all(math.isnan(v) for v in m.values())


def test_one_class_labels_leave_roc_auc_undefined() -> None:
    m = binary_metrics([1, 1, 1], [0.9, 0.8, 0.2])
    assert math.isnan(m["roc_auc"])
    assert m["recall"] == pytest.approx(2 / 3)


def test_nothing_predicted_positive_gives_zero_precision_and_f1() -> None:
    m = binary_metrics([0, 1], [0.1, 0.2])
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)


def test_no_positive_labels_gives_zero_recall() -> None:
    m = binary_metrics([0, 0], [0.9, 0.1])
    assert m["recall"] == 0.0 and m["precision"] == 0.0 and m["accuracy"] == 0.5


def test_log_loss_clips_certain_wrong_predictions() -> None:
    m = binary_metrics([1, 0], [0.0, 1.0])
    # Each row scores the clip bound: log(1e-15) for the positive, log(1 - (1 - 1e-15)) for the negative.
    assert m["log_loss"] == pytest.approx(-(math.log(1e-15) + math.log1p(-(1 - 1e-15))) / 2)
    assert math.isfinite(m["log_loss"])


def test_numpy_arrays_and_boolean_labels_are_accepted() -> None:
    m = binary_metrics(np.array([True, False]), np.array([0.9, 0.1], dtype=np.float32))
    assert m["accuracy"] == 1.0 and m["roc_auc"] == 1.0


@pytest.mark.parametrize("labels", [[0, 2], [0, float("nan")], [0, -1]])
def test_labels_other_than_zero_or_one_are_invalid_data(labels: list[float]) -> None:
    with pytest.raises(InvalidData, match="labels must be 0 or 1"):
        binary_metrics(labels, [0.1, 0.2])


@pytest.mark.parametrize("scores", [[0.1, 1.5], [-0.1, 0.2], [0.1, float("nan")]])
def test_scores_outside_zero_one_or_nan_are_invalid_data(scores: list[float]) -> None:
    with pytest.raises(InvalidData, match="probabilities"):
        binary_metrics([0, 1], scores)


def test_mismatched_lengths_are_invalid_data() -> None:
    with pytest.raises(InvalidData, match="differ in length"):
        binary_metrics([0, 1, 1], [0.1, 0.2])


def test_non_numeric_labels_are_invalid_data() -> None:
    with pytest.raises(InvalidData, match="numbers"):
        binary_metrics(["yes", "no"], [0.1, 0.2])


def test_metric_keys_are_split_prefixed_and_recall_is_named_recall() -> None:
    assert "test_recall" in ALL_METRIC_KEYS and "test_all" not in ALL_METRIC_KEYS
    assert len(ALL_METRIC_KEYS) == 12


@pytest.mark.parametrize(
    ("key", "higher"), [("accuracy", True), ("test_roc_auc", True), ("test_log_loss", False)]
)
def test_direction_of_plain_and_prefixed_metrics(key: str, higher: bool) -> None:
    assert higher_is_better(key) is higher


def test_unknown_metric_direction_lists_valid_names() -> None:
    with pytest.raises(InvalidConfig, match="valid metrics: accuracy"):
        higher_is_better("test_all")


def test_prefixed_adds_the_split_to_every_key() -> None:
    assert prefixed("test", {"f1": 0.5, "recall": 0.25}) == {"test_f1": 0.5, "test_recall": 0.25}
