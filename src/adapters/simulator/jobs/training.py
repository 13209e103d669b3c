"""The training payload of a simulated ML Job; the rows it reads and its metrics are ``account.labelled_data``'s.

Each worker reads the dataset version's Parquet files itself (never the DuckDB database: DuckDB allows one
writing process per file), keeps its shard (rows ``rank::world_size``) and trains through XGBoost's
collective, so the N workers build ONE model. The head (rank 0) evaluates it on the whole train and test
splits and saves it in XGBoost's native format. Data and hyperparameters are checked before training, so a
bad request fails with a message that says what was wrong instead of an XGBoost stack trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from xgboost import collective

from adapters.simulator.account.labelled_data import evaluate, read_dataset
from adapters.simulator.jobs.cores import threads_per_instance
from domain.errors import InvalidConfig, InvalidData
from domain.metrics import prefixed
from domain.names import validate_version
from domain.refs import ModelArtifact, TrainingOutcome, TrainingRequest

# The guide's XGBClassifier settings (n_estimators=3, max_depth=50, learning_rate=0.75), in native names.
GUIDE_PARAMS: Mapping[str, Any] = {
    "max_depth": 50,
    "eta": 0.75,
    "objective": "binary:logistic",
    "booster": "gbtree",
}
GUIDE_NUM_BOOST_ROUND = 3
# scikit-learn spellings the guide uses, mapped to XGBoost's native ones.
_SKLEARN_NAMES = {"learning_rate": "eta"}


def model_path(files_root: Path, model_version: str) -> Path:
    """Where a run's trained model is saved: ``models/run_artifacts/<model_version>/model.ubj``."""
    folder = validate_version(model_version, "model version")
    return Path(files_root) / "models" / "run_artifacts" / folder / "model.ubj"


def booster_params(request: TrainingRequest) -> tuple[dict[str, Any], int]:
    """The guide's parameters overridden by the request's; ``n_estimators`` in params sets the rounds."""
    params = {**GUIDE_PARAMS}
    rounds: Any = request.num_boost_round
    for key, value in request.params.items():
        if key == "n_estimators":
            rounds = value
        else:
            params[_SKLEARN_NAMES.get(key, key)] = value
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidConfig(f"invalid number of boosting rounds {rounds!r}: expected a positive integer")
    return params, rounds


def check_params(params: Mapping[str, Any], rounds: int) -> None:
    """Let XGBoost judge the parameters on a two-row matrix, outside the collective, before the real run."""
    probe = xgb.DMatrix(np.array([[0.0], [1.0]], dtype=np.float32), label=np.array([0.0, 1.0]))
    try:
        xgb.train(dict(params), probe, num_boost_round=1)
    except xgb.core.XGBoostError as exc:
        raise InvalidConfig(f"invalid hyperparameters {dict(params)}: {_first_line(exc)}") from None


def run_training(
    request: TrainingRequest,
    files_root: Path,
    *,
    rank: int = 0,
    world_size: int = 1,
    communicator: Mapping[str, Any] | None = None,
) -> TrainingOutcome | None:
    """Train this worker's part of the one model; the head (rank 0) returns the outcome, the others None."""
    params, rounds = booster_params(request)
    # Share the machine's cores between the workers instead of each one claiming them all.
    params.setdefault("nthread", threads_per_instance(world_size))
    train = read_dataset(files_root, request.train)
    if np.unique(train.labels).size < 2:
        raise InvalidData(
            f"training data {request.train.name} version {request.train.version} has only one class "
            f"(label {train.labels[0]:g}); a binary classifier needs both 0 and 1"
        )
    check_params(params, rounds)
    shard = train.shard(rank, world_size)
    if world_size > 1:
        with collective.CommunicatorContext(**(communicator or {}), dmlc_task_id=task_id(rank)):
            if collective.get_rank() != rank:
                raise RuntimeError(f"instance {rank} was given collective rank {collective.get_rank()}")
            booster = xgb.train(params, shard.dmatrix(), num_boost_round=rounds)
    else:
        booster = xgb.train(params, shard.dmatrix(), num_boost_round=rounds)
    if rank != 0:
        return None
    test = read_dataset(files_root, request.test)
    metrics = prefixed("train", evaluate(booster, train)) | prefixed("test", evaluate(booster, test))
    path = model_path(files_root, request.model_version)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.ubj")
    booster.save_model(str(partial))
    partial.replace(path)
    return TrainingOutcome(
        artifact=ModelArtifact(uri=str(path)), metrics=metrics, feature_names=train.feature_names
    )


def task_id(rank: int) -> str:
    """The collective's task id of an instance: zero-padded so sorting by task gives rank order."""
    return f"instance-{rank:05d}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # XGBoost prefixes "[time] file:line: " and appends a stack trace; keep the message.
    text = next((line for line in lines if not line.startswith(("Stack trace", "[bt]"))), str(exc))
    return text.split(": ", 1)[-1] if text.startswith("[") else text
