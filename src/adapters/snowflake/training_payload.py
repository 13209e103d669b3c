"""The function that runs INSIDE the ML Job container: read the datasets, train, evaluate, save, report.

With more than one instance (``SNOWFLAKE_JOBS_COUNT`` > 1) training is distributed by the Container Runtime's
``XGBEstimator``; on one instance it is plain ``xgboost.train``. Metrics come from ``domain.metrics`` so both
backends compute them alike. The Booster is saved in XGBoost's native UBJSON format (never a pickle) to the
run's stage folder, and the outcome returns as ``TrainingOutcome`` JSON (the job's result).
"""

from __future__ import annotations

import io
import os
from typing import Any

from domain.metrics import binary_metrics, prefixed
from domain.refs import DatasetRef, ModelArtifact, TrainingOutcome, TrainingRequest

MODEL_FILE = "model.ubj"


def dataset_fqn(schema_fqn: str, ref: DatasetRef) -> str:
    return ref.name if "." in ref.name else f"{schema_fqn}.{ref.name}"


def read_dataset(session: Any, schema_fqn: str, ref: DatasetRef) -> Any:
    """A dataset version as pandas, through DataConnector (the runtime may swap in its optimized ingestor)."""
    from snowflake.ml.data import DataConnector
    from snowflake.ml.dataset import load_dataset

    return DataConnector.from_dataset(
        load_dataset(session, dataset_fqn(schema_fqn, ref), ref.version)
    ).to_pandas()


def feature_columns(frame: Any, ref: DatasetRef) -> list[str]:
    excluded = {c.upper() for c in ref.non_feature_cols}
    return [c for c in frame.columns if c.upper() not in excluded]


def train_booster(train: Any, ref: DatasetRef, request: TrainingRequest, instances: int) -> Any:
    import xgboost

    features = feature_columns(train, ref)
    if instances > 1:
        from snowflake.ml.modeling.distributors.xgboost import XGBEstimator, XGBScalingConfig

        estimator = XGBEstimator(
            n_estimators=request.num_boost_round,
            params=dict(request.params),
            scaling_config=XGBScalingConfig(num_workers=-1, use_gpu=False),
        )
        return estimator.fit(train, input_cols=features, label_col=ref.label)
    matrix = xgboost.DMatrix(train[features], label=train[ref.label])
    return xgboost.train(dict(request.params), matrix, num_boost_round=request.num_boost_round)


def evaluate(booster: Any, frame: Any, ref: DatasetRef) -> dict[str, float]:
    import xgboost

    features = feature_columns(frame, ref)
    scores = booster.predict(xgboost.DMatrix(frame[features]))
    return binary_metrics(frame[ref.label].to_numpy(), scores)


def train_in_job(request_data: dict[str, Any], schema_fqn: str, artifact_dir: str) -> str:
    """The ML Job's entry point; ``artifact_dir`` is a stage folder such as ``@DB.S.DAG_STAGE/run_artifacts/v…``."""
    from snowflake.snowpark import Session

    session = Session.builder.getOrCreate()
    request = TrainingRequest.from_dict(request_data)
    train = read_dataset(session, schema_fqn, request.train)
    test = read_dataset(session, schema_fqn, request.test)
    instances = int(os.environ.get("SNOWFLAKE_JOBS_COUNT", "1"))
    booster = train_booster(train, request.train, request, instances)
    metrics = {
        **prefixed("train", evaluate(booster, train, request.train)),
        **prefixed("test", evaluate(booster, test, request.test)),
    }
    uri = f"{artifact_dir.rstrip('/')}/{MODEL_FILE}"
    session.file.put_stream(
        io.BytesIO(bytes(booster.save_raw("ubj"))), uri, auto_compress=False, overwrite=True
    )
    features = tuple(feature_columns(train, request.train))
    return TrainingOutcome(ModelArtifact(uri), metrics, features).to_json()
