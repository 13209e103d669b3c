"""Training submission checks the pool first; the in-job payload trains and evaluates with the domain metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adapters.snowflake.jobs import SnowflakeJobRunner
from adapters.snowflake.training_payload import evaluate, feature_columns, train_booster
from domain.errors import InvalidConfig, NotFound
from domain.refs import DatasetRef, TrainingRequest
from tests.unit.snowflake.sf_fakes import ScriptedSession

REF = DatasetRef("D", "v1_train", label_cols=("MORTGAGERESPONSE",), exclude_cols=("TIMESTAMP", "LOAN_ID"))


def _request(target: int = 2, minimum: int | None = None, pool: str = "DEMO_POOL") -> TrainingRequest:
    params = {"objective": "binary:logistic", "max_depth": 2, "eta": 0.5}
    return TrainingRequest(REF, REF, params, 3, "v20260210_092849", pool, target, minimum)


def _session(max_nodes: int = 2) -> ScriptedSession:
    session = ScriptedSession()
    session.answer(r"^SHOW COMPUTE POOLS LIKE 'DEMO_POOL'", [{"name": "DEMO_POOL", "max_nodes": max_nodes}])
    return session


def test_a_missing_pool_is_not_found_with_the_create_and_grant() -> None:
    with pytest.raises(
        NotFound, match=r"CREATE COMPUTE POOL IF NOT EXISTS NOPE .*GRANT USAGE ON COMPUTE POOL NOPE"
    ):
        SnowflakeJobRunner(_session()).submit_training(_request(pool="NOPE"))


def test_more_instances_than_the_pools_max_nodes_is_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match=r"target_instances=3 must be 1..2 \(MAX_NODES of DEMO_POOL\)"):
        SnowflakeJobRunner(_session()).submit_training(_request(target=3))


def test_min_instances_above_target_is_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match="min_instances=3"):
        SnowflakeJobRunner(_session(4)).submit_training(_request(target=2, minimum=3))


def _frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "LOAN_ID": np.arange(rows),
            "TIMESTAMP": pd.date_range("2024-01-01", periods=rows, freq="h"),
            "INCOME": x,
            "MONTH": rng.integers(1, 13, rows),
            "MORTGAGERESPONSE": (x + rng.normal(scale=0.3, size=rows) > 0).astype(int),
        }
    )


def test_keys_timestamps_and_labels_are_never_features() -> None:
    assert feature_columns(_frame(), REF) == ["INCOME", "MONTH"]


def test_single_instance_training_is_plain_xgboost_and_metrics_are_the_domains() -> None:
    frame = _frame()
    booster = train_booster(frame, REF, _request(target=1), instances=1)
    metrics = evaluate(booster, frame, REF)
    assert set(metrics) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert metrics["accuracy"] > 0.8


def test_every_mljob_status_is_a_domain_status_or_deleted_which_is_not_found() -> None:
    from typing import get_args

    from snowflake.ml.jobs._utils.type_utils import JOB_STATUS

    from adapters.snowflake.jobs import job_status
    from domain.refs import JobRef, JobStatus

    job = JobRef("DB.S.TRAIN_MODEL_1")
    for value in get_args(JOB_STATUS):
        if value == "DELETED":
            with pytest.raises(NotFound, match="was deleted"):
                job_status(job, value)
        else:
            assert job_status(job, value) is JobStatus(value)


class DeletedJob:
    status = "DELETED"

    def wait(self, timeout: float = -1) -> str:
        return "DELETED"


def test_waiting_on_a_deleted_job_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from snowflake.ml import jobs

    from domain.refs import JobRef

    monkeypatch.setattr(jobs, "get_job", lambda job_id, session=None: DeletedJob())
    with pytest.raises(NotFound, match="was deleted"):
        SnowflakeJobRunner(_session()).wait(JobRef("DB.S.TRAIN_MODEL_1"), timeout=1)


def test_a_pool_name_is_validated_before_it_reaches_show_compute_pools() -> None:
    from domain.errors import InvalidName

    session = _session()
    with pytest.raises(InvalidName, match="compute pool"):
        SnowflakeJobRunner(session).submit_training(_request(pool="P\\'; DROP DATABASE X; --"))
    assert session.queries == []


def test_a_quoted_pool_is_looked_up_by_its_stored_name() -> None:
    session = ScriptedSession()
    session.answer(r"^SHOW COMPUTE POOLS LIKE 'gpu pool'$", [{"name": "gpu pool", "max_nodes": 1}])
    with pytest.raises(InvalidConfig, match=r"must be 1..1"):
        SnowflakeJobRunner(session).submit_training(_request(target=2, pool='"gpu pool"'))
