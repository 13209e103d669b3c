"""References and small frozen values exchanged across ports.

Bulk data never crosses a port: datasets stay in the backend and are named by a ``DatasetRef``; a trained model
stays in the backend's files and is named by a ``ModelArtifact``. These values serialise to plain JSON so a task
can hand them to its successors as a return value (at most 10 kB in Snowflake).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class DatasetRef:
    """One immutable version of a named dataset, with the columns that are never features."""

    name: str
    version: str
    label_cols: tuple[str, ...] = ()
    exclude_cols: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if not self.label_cols:
            raise ValueError(f"dataset {self.name} version {self.version} has no label column")
        return self.label_cols[0]

    @property
    def non_feature_cols(self) -> tuple[str, ...]:
        return self.label_cols + self.exclude_cols

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "label_cols": list(self.label_cols),
            "exclude_cols": list(self.exclude_cols),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetRef:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            label_cols=tuple(data.get("label_cols", ())),
            exclude_cols=tuple(data.get("exclude_cols", ())),
        )


@dataclass(frozen=True)
class DatasetSplits:
    """A full dataset version and its deterministic train and test splits (``<v>_train``, ``<v>_test``)."""

    full: DatasetRef
    train: DatasetRef
    test: DatasetRef

    def to_json(self) -> str:
        return json.dumps({k: getattr(self, k).to_dict() for k in ("full", "train", "test")}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DatasetSplits:
        data = json.loads(text)
        return cls(**{k: DatasetRef.from_dict(data[k]) for k in ("full", "train", "test")})


@dataclass(frozen=True)
class DatasetVersionInfo:
    """What a listing of dataset versions returns."""

    name: str
    version: str
    created_on: datetime
    row_count: int | None = None
    comment: str = ""


@dataclass(frozen=True)
class FeatureViewRef:
    """A registered, versioned feature view."""

    name: str
    version: str


@dataclass(frozen=True)
class ModelArtifact:
    """Where a trained model file lives in the backend (a stage path or a file in the simulator home).

    Models are stored in XGBoost's native format, never as pickles.
    """

    uri: str
    format: str = "xgboost-ubj"


class JobStatus(StrEnum):
    """ML Job states, as ``snowflake.ml.jobs.MLJob.status`` reports them."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    INTERNAL_ERROR = "INTERNAL_ERROR"

    @property
    def is_terminal(self) -> bool:
        return self in {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERNAL_ERROR}


@dataclass(frozen=True)
class JobRef:
    """A submitted job; ``id`` is fully qualified as in Snowflake (``DB.SCHEMA.NAME``)."""

    id: str

    @property
    def name(self) -> str:
        return self.id.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class TrainingRequest:
    """Everything a training job needs; the job reads its datasets itself where it runs."""

    train: DatasetRef
    test: DatasetRef
    params: Mapping[str, Any]
    num_boost_round: int
    model_version: str
    compute_pool: str
    target_instances: int = 1
    min_instances: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "train": self.train.to_dict(),
            "test": self.test.to_dict(),
            "params": dict(self.params),
            "num_boost_round": self.num_boost_round,
            "model_version": self.model_version,
            "compute_pool": self.compute_pool,
            "target_instances": self.target_instances,
            "min_instances": self.min_instances,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingRequest:
        return cls(
            train=DatasetRef.from_dict(data["train"]),
            test=DatasetRef.from_dict(data["test"]),
            params=dict(data["params"]),
            num_boost_round=int(data["num_boost_round"]),
            # "run_id" was this key's name: a request serialized before the rename (a job queued in an existing
            # simulator home) still reads.
            model_version=str(data["model_version"] if "model_version" in data else data["run_id"]),
            compute_pool=str(data["compute_pool"]),
            target_instances=int(data["target_instances"]),
            min_instances=None if data.get("min_instances") is None else int(data["min_instances"]),
        )


@dataclass(frozen=True)
class TrainingOutcome:
    """A trained model's file and its metrics (``{train,test}_<metric>``), computed where the job ran."""

    artifact: ModelArtifact
    metrics: Mapping[str, float]
    feature_names: tuple[str, ...] = ()
    job_id: str | None = None  # the ML Job that trained it, whose instance logs ``logs train_model`` shows

    def to_json(self) -> str:
        return json.dumps(
            {
                "model_path": self.artifact.uri,
                "model_format": self.artifact.format,
                "metrics": dict(self.metrics),
                "feature_names": list(self.feature_names),
                "job_id": self.job_id,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> TrainingOutcome:
        data = json.loads(text)
        return cls(
            artifact=ModelArtifact(uri=data["model_path"], format=data.get("model_format", "xgboost-ubj")),
            metrics={k: float(v) for k, v in data["metrics"].items()},
            feature_names=tuple(data.get("feature_names", ())),
            job_id=data.get("job_id"),
        )


@dataclass(frozen=True)
class ModelVersionInfo:
    """One model version as the registry lists it."""

    model_name: str
    version: str
    created_on: datetime
    is_default: bool = False
    aliases: frozenset[str] = frozenset()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    dataset: DatasetRef | None = None
    comment: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)  # what log_version stored: the gate's decision


@dataclass(frozen=True)
class Notification:
    """A message to send through a notification integration."""

    subject: str
    body: str
    content_type: str = "text/plain"  # or "text/html"
