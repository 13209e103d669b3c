"""The training payload: one worker or several through XGBoost's collective, checks on data and parameters."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from xgboost.tracker import RabitTracker

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.labelled_data import read_dataset
from adapters.simulator.feature_store import datasets
from adapters.simulator.jobs.training import (
    GUIDE_NUM_BOOST_ROUND,
    GUIDE_PARAMS,
    booster_params,
    run_training,
)
from domain.errors import InvalidConfig, InvalidData, NotFound
from domain.refs import DatasetRef, TrainingRequest
from tests.support.training_data import FEATURES, LABEL, request_for, write_dataset


def test_features_are_all_columns_but_label_key_and_timestamp(tmp_path: Path) -> None:
    ref = write_dataset(tmp_path, "DS", "v1", rows=50)
    data = read_dataset(tmp_path, ref)
    assert data.feature_names == FEATURES
    assert data.features.shape == (50, 4)


def test_the_head_saves_a_native_model_and_returns_prefixed_metrics(tmp_path: Path) -> None:
    outcome = run_training(request_for(tmp_path), tmp_path)
    assert outcome is not None
    assert outcome.artifact.uri == str(
        tmp_path / "models" / "run_artifacts" / "v20260210_092849" / "model.ubj"
    )
    assert xgb.Booster(model_file=outcome.artifact.uri).num_boosted_rounds() == 2
    assert set(outcome.metrics) == {
        f"{split}_{m}"
        for split in ("train", "test")
        for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
    }
    assert outcome.metrics["test_accuracy"] > 0.7


def test_guide_defaults_apply_and_sklearn_names_are_translated(tmp_path: Path) -> None:
    request = request_for(tmp_path, params={"learning_rate": 0.3, "n_estimators": 5})
    params, rounds = booster_params(request)
    assert params == {**GUIDE_PARAMS, "eta": 0.3}
    assert rounds == 5
    assert GUIDE_NUM_BOOST_ROUND == 3


def test_two_workers_train_one_model_through_the_collective(tmp_path: Path) -> None:
    request = request_for(tmp_path)
    tracker = RabitTracker(n_workers=2, host_ip="127.0.0.1", sortby="task")
    tracker.start()
    results: dict[int, object] = {}

    def worker(rank: int) -> None:
        results[rank] = run_training(
            request, tmp_path, rank=rank, world_size=2, communicator=tracker.worker_args()
        )

    threads = [threading.Thread(target=worker, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    tracker.wait_for(timeout=30)
    tracker.free()
    assert results[1] is None
    assert results[0] is not None


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.ones(300), "only one class"),
        (np.where(np.arange(300) % 7 == 0, np.nan, 1.0), "null or NaN"),
        (np.arange(300) % 3, "must be 0 or 1"),
    ],
    ids=["one-class", "nan-labels", "not-binary"],
)
def test_bad_labels_are_refused_before_training(tmp_path: Path, labels: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidData, match=message):
        run_training(request_for(tmp_path, train_labels=labels), tmp_path)


def test_empty_training_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidData, match="has no rows"):
        run_training(request_for(tmp_path, train_labels=np.array([], dtype=int)), tmp_path)


def test_a_missing_label_column_is_named(tmp_path: Path) -> None:
    request = request_for(tmp_path)
    bad = DatasetRef("DS", "v1_train", label_cols=("APPROVED",), exclude_cols=("LOAN_ID", "TIMESTAMP"))
    with pytest.raises(InvalidData, match="'APPROVED' is missing"):
        run_training(TrainingRequest(**{**request.__dict__, "train": bad}), tmp_path)


def test_invalid_hyperparameters_are_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="invalid hyperparameters"):
        run_training(request_for(tmp_path, params={"max_depth": -3}), tmp_path)


def test_a_missing_dataset_version_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no Parquet files"):
        read_dataset(tmp_path, DatasetRef("DS", "v9", label_cols=(LABEL,)))


def test_a_dataset_with_a_quoted_name_is_read_where_the_feature_store_wrote_it(tmp_path: Path) -> None:
    query = "select i as K, (i % 2) as Y, i * 1.5 as X from range(40) t(i)"
    with LocalAccount(tmp_path / "home") as account:
        (ref,) = datasets.create_versions(
            account,
            '"my ds/v"',
            [datasets.NewVersion("v1", query)],
            label_cols=["Y"],
            exclude_cols=["K"],
            key_cols=["K"],
            source_query=query,
        )
        data = read_dataset(account.files, ref)
    assert data.feature_names == ("X",)
    assert data.labels.size == 40
