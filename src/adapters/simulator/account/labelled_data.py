"""A dataset version's rows as a model reads them, and a model's metrics on them: what training (jobs) and
scoring (registry) share.

The rows come from the version's Parquet files in the files area (never the DuckDB database: DuckDB allows one
writing process per file, and training workers are processes of their own), so this module imports no DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import xgboost as xgb

from adapters.simulator.account.folders import dataset_dir
from domain.errors import InvalidData, NotFound
from domain.metrics import binary_metrics
from domain.refs import DatasetRef


@dataclass(frozen=True)
class LabelledData:
    """Features (float32, NaN for nulls) and 0/1 labels of one dataset version, in file order."""

    features: np.ndarray
    labels: np.ndarray
    feature_names: tuple[str, ...]

    def shard(self, rank: int, world_size: int) -> LabelledData:
        return LabelledData(
            self.features[rank::world_size], self.labels[rank::world_size], self.feature_names
        )

    def dmatrix(self) -> xgb.DMatrix:
        return xgb.DMatrix(self.features, label=self.labels, feature_names=list(self.feature_names))


def read_dataset(files_root: Path, ref: DatasetRef) -> LabelledData:
    """All rows of a dataset version: features are every column but the label and exclude columns."""
    where = f"dataset {ref.name} version {ref.version}"
    files = sorted(dataset_dir(files_root, ref.name, ref.version).glob("*.parquet"))
    if not files:
        raise NotFound(
            f"{where} has no data: no Parquet files in {dataset_dir(files_root, ref.name, ref.version)}"
        )
    if not ref.label_cols:
        raise InvalidData(f"{where} names no label column; set label_cols on the DatasetRef")
    table = pads.dataset([str(f) for f in files], format="parquet").to_table()
    label = ref.label
    if label not in table.column_names:
        raise InvalidData(
            f"label column {label!r} is missing from {where}; its columns are {table.column_names}"
        )
    names = tuple(c for c in table.column_names if c not in ref.non_feature_cols)
    if not names:
        raise InvalidData(f"{where} has no feature columns besides {list(ref.non_feature_cols)}")
    for name in (*names, label):
        kind = table.schema.field(name).type
        if not (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind)
            or pa.types.is_null(kind)
        ):
            raise InvalidData(
                f"column {name!r} of {where} has type {kind}; features and labels must be numeric or boolean "
                f"(encode it, or list it in exclude_cols)"
            )
    features = np.empty((table.num_rows, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        features[:, j] = _as_float(table.column(name))
    labels = _as_float(table.column(label))
    _check_labels(labels, label, where)
    return LabelledData(features, labels, names)


def _as_float(column: pa.ChunkedArray) -> np.ndarray:
    # Casting to float64 first turns nulls into NaN, which XGBoost treats as missing.
    return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)


def _check_labels(labels: np.ndarray, label: str, where: str) -> None:
    if labels.size == 0:
        raise InvalidData(f"{where} has no rows")
    missing = int(np.isnan(labels).sum())
    if missing:
        raise InvalidData(
            f"label column {label!r} of {where} has {missing} null or NaN values; labels must be 0 or 1"
        )
    others = sorted(set(np.unique(labels).tolist()) - {0.0, 1.0})
    if others:
        raise InvalidData(
            f"label column {label!r} of {where} holds {others[:5]}; binary labels must be 0 or 1"
        )


def evaluate(booster: xgb.Booster, data: LabelledData) -> dict[str, float]:
    """Unprefixed binary metrics of ``booster`` on ``data``; the feature columns must be the model's."""
    expected = tuple(booster.feature_names or ())
    if expected and expected != data.feature_names:
        raise InvalidData(
            f"the dataset's feature columns {list(data.feature_names)} differ from the model's "
            f"{list(expected)}"
        )
    scores = booster.predict(xgb.DMatrix(data.features, feature_names=list(data.feature_names)))
    return binary_metrics(data.labels, scores)
