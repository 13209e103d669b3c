"""Training submission checks the pool first; the in-job payload trains and evaluates with the domain metrics."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from adapters.snowflake.jobs import SnowflakeJobRunner
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.training_payload import evaluate, feature_columns, train_booster
from domain.errors import InvalidConfig, NotFound
from domain.refs import DatasetRef, TrainingRequest
from tests.sproc_emulation.procedure import ProcedureSession, Statements
from tests.sproc_emulation.runner import ML_JOB_SUBMISSION_ANSWERS, TaskRunContext
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
    with pytest.raises(
        InvalidConfig,
        match=r"target_instances \(3\) exceeds the max_nodes \(2\) of compute pool DEMO_POOL: ALTER COMPUTE POOL DEMO_POOL SET MAX_NODES = 3",
    ):
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
    with pytest.raises(InvalidConfig, match=r"exceeds the max_nodes \(1\)"):
        SnowflakeJobRunner(session).submit_training(_request(target=2, pool='"gpu pool"'))


def _runner(answers: Any = ML_JOB_SUBMISSION_ANSWERS) -> tuple[SnowflakeJobRunner, Statements]:
    """A runner over the stored-procedure emulation's session: ``snowflake.ml.jobs`` runs for real on it."""
    statements = Statements(TaskRunContext({}, "train_model").as_request(), list(answers))
    names = SnowflakeNames(database="SNOWBANK", schema="ML")
    return SnowflakeJobRunner(ProcedureSession(statements), names), statements


def _submitted(model_version: str) -> Statements:
    """What a real ``snowflake.ml.jobs`` submission sent."""
    runner, statements = _runner()
    job = runner.submit_training(replace(_request(), model_version=model_version))
    assert job.id == "SNOWBANK.ML.TRAIN_MODEL_0A1B2C3D"
    return statements


def _job_spec(statements: Statements) -> dict[str, Any]:
    (bind,) = [s for s in statements.log if s["kind"] == "bind"]  # the one bound statement: EXECUTE_ML_JOB
    return json.loads(bind["params"][2])  # type: ignore[no-any-return]


def test_each_run_uploads_its_job_payload_to_a_folder_of_its_own() -> None:
    first, second = _submitted("v20260210_092849"), _submitted("v20260211_092849")
    for statements, run in ((first, "v20260210_092849"), (second, "v20260211_092849")):
        folder = f"@SNOWBANK.ML.JOB_STAGE/{run}/train_model"
        assert _job_spec(statements)["STAGE_PATH"] == folder
        assert statements.uploads and all(u["target"].startswith(folder + "/") for u in statements.uploads)


def test_a_run_passes_its_own_artifact_folder_to_the_job() -> None:
    args = " ".join(_job_spec(_submitted("v20260210_092849"))["ARGS"])
    assert "@SNOWBANK.ML.DAG_STAGE/run_artifacts/v20260210_092849" in args


def test_a_job_from_a_source_tree_ships_domain_and_adapters_zipped_under_their_names() -> None:
    uploads = {u["target"].rsplit("/", 1)[-1]: u for u in _submitted("v20260210_092849").uploads}
    assert "domain/refs.py" in uploads["domain.zip"]["zip_members"]
    assert "adapters/snowflake/training_payload.py" in uploads["adapters.zip"]["zip_members"]


@pytest.mark.parametrize("model_version", ["", "../v1", "v1/x", "v1.2", "v 1"])
def test_a_model_version_that_cannot_name_a_stage_folder_is_invalid_config(model_version: str) -> None:
    session = _session()
    with pytest.raises(
        InvalidConfig, match=f"model version {re.escape(repr(model_version))} cannot name a stage folder"
    ):
        SnowflakeJobRunner(session).submit_training(replace(_request(), model_version=model_version))


def test_a_retried_run_replaces_the_payload_in_its_folder() -> None:
    """RETRY LAST resubmits under the same model version: the entrypoint must be this deployment's, not the last's."""
    uploads = _submitted("v20260210_092849").uploads
    app = [u for u in uploads if "/train_model/app/" in u["target"]]
    assert {u["target"].rsplit("/", 1)[-1] for u in app} == {"func.py", "domain.zip", "adapters.zip"}
    assert all(u["overwrite"] for u in app), [(u["target"], u["overwrite"]) for u in app]


def test_a_submission_failing_for_another_reason_says_why_without_the_pools_create_and_grant() -> None:
    # SYSTEM$GET_ML_JOB_RUNTIME with no image: snowflake.ml's own ValueError (_utils/runtime_env_utils.py)
    answers = [(r"SYSTEM\$GET_ML_JOB_RUNTIME", [{"VALUE": ""}]), *ML_JOB_SUBMISSION_ANSWERS]
    runner, _ = _runner(answers)
    with pytest.raises(InvalidConfig, match="Failed to get any available runtime image") as raised:
        runner.submit_training(_request())
    assert "CREATE COMPUTE POOL" not in str(raised.value)
