"""Dataset versions and training requests on a simulator home, written in the feature store's layout.

Shared by the simulator's integration tests and the port contracts (which must not import test modules).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.simulator.account.folders import path_segment
from domain.refs import DatasetRef, TrainingRequest

LABEL = "MORTGAGERESPONSE"
FEATURES = ("LOAN_AMOUNT", "INCOME", "RATIO", "FLAG")


def write_dataset(
    files_root: Path,
    name: str,
    version: str,
    *,
    rows: int = 300,
    seed: int = 0,
    labels: np.ndarray | None = None,
    files: int = 2,
) -> DatasetRef:
    """A dataset version in the feature store's layout: Parquet files with key, timestamp, label, features."""
    rows = rows if labels is None else len(labels)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    y = labels if labels is not None else (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.5, rows) > 0).astype(int)
    table = pa.table(
        {
            "LOAN_ID": np.arange(rows),
            "TIMESTAMP": pa.array(np.arange(rows), pa.timestamp("s")),
            LABEL: y,
            **{f: x[:, j] for j, f in enumerate(FEATURES)},
        }
    )
    folder = files_root / "datasets" / path_segment(name) / path_segment(version)
    folder.mkdir(parents=True, exist_ok=True)
    chunk = max(1, -(-rows // files))
    for part, start in enumerate(range(0, max(rows, 1), chunk)):
        pq.write_table(table.slice(start, chunk), folder / f"part-{part}.parquet")
    return DatasetRef(name, version, label_cols=(LABEL,), exclude_cols=("LOAN_ID", "TIMESTAMP"))


def request_for(
    files_root: Path, *, train_labels: np.ndarray | None = None, **overrides: object
) -> TrainingRequest:
    train = write_dataset(files_root, "DS", "v1_train", rows=300, seed=1, labels=train_labels)
    test = write_dataset(files_root, "DS", "v1_test", rows=120, seed=2)
    fields = {
        "train": train,
        "test": test,
        "params": {"max_depth": 4},
        "num_boost_round": 2,
        "model_version": "v20260210_092849",
        "compute_pool": "DEMO_POOL",
    }
    return TrainingRequest(**{**fields, **overrides})  # type: ignore[arg-type]
