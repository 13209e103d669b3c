"""Expired training jobs leave the Snowflake stages: their payload and their run's model folder, through the real
``snowflake.ml.jobs`` (list_jobs, get_job, delete_job) on the offline harness's Snowpark session."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.snowflake.jobs import SnowflakeJobRunner
from adapters.snowflake.session import SnowflakeNames
from tests.snowflake_offline.connection import Upload
from tests.snowflake_offline.harness import OfflineSnowflake, offline_snowflake

NAMES = SnowflakeNames(database="SNOWBANK", schema="DEV")
CUTOFF = datetime(2026, 2, 5, tzinfo=UTC)
OLD, NEW = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 9, tzinfo=UTC)
# name, status, completed time, run folder: v1's job expired; v2's first attempt expired, its retry is kept;
# v3's job still runs; OTHER_JOB is not a training job of the pipeline.
JOBS = (
    ("TRAIN_MODEL_A", "DONE", OLD, "v1"),
    ("TRAIN_MODEL_B", "FAILED", OLD, "v2"),
    ("TRAIN_MODEL_C", "DONE", NEW, "v2"),
    ("TRAIN_MODEL_D", "RUNNING", None, "v3"),
    ("OTHER_JOB", "DONE", OLD, "other"),
)
# The table function's columns that _get_job_history_spcs selects (snowflake/ml/jobs/manager.py), and the
# names it gives them in the projection list_jobs reads.
_HISTORY = (
    ("NAME", "TEXT"),
    ("STATUS", "TEXT"),
    ("MESSAGE", "TEXT"),
    ("DATABASE_NAME", "TEXT"),
    ("SCHEMA_NAME", "TEXT"),
    ("OWNER", "TEXT"),
    ("COMPUTE_POOL_NAME", "TEXT"),
    ("PARAMETERS", "OBJECT"),
    ("CREATED_TIME", "TIMESTAMP_LTZ"),
    ("COMPLETED_TIME", "TIMESTAMP_LTZ"),
    ("DELETED_TIME", "TIMESTAMP_LTZ"),
)
_LISTED = tuple(
    (name, kind)
    for name, kind in (
        ("name", "TEXT"),
        ("status", "TEXT"),
        ("message", "TEXT"),
        ("database_name", "TEXT"),
        ("schema_name", "TEXT"),
        ("owner", "TEXT"),
        ("compute_pool", "TEXT"),
        ("target_instances", "FIXED"),
        ("created_time", "TIMESTAMP_LTZ"),
        ("completed_time", "TIMESTAMP_LTZ"),
    )
)


def _spec(folder: str) -> str:
    """A job service's spec as DESCRIBE SERVICE returns it: the stage volume is the payload folder the job was
    submitted with (what MLJob._stage_path reads, snowflake/ml/jobs/job.py)."""
    source = f"@SNOWBANK.DEV.JOB_STAGE/{folder}/train_model"
    if folder == "other":
        source = "@SNOWBANK.DEV.OTHER_STAGE/x"
    return (
        "spec:\n  containers:\n  - name: main\n    env: {MLRS_RESULT_PATH: mljob_result.pkl}\n"
        "    volumeMounts: [{name: stage-volume, mountPath: /mnt/job_stage}]\n"
        f"  volumes:\n  - name: stage-volume\n    source: '{source}'\n"
    )


def _describe(_sql: str, params: Sequence[Any] | None) -> list[tuple[Any, ...]]:
    (job_id,) = params or ("",)
    folder = {f"SNOWBANK.DEV.{name}": folder for name, _, _, folder in JOBS}[str(job_id)]
    status = {f"SNOWBANK.DEV.{name}": status for name, status, _, _ in JOBS}[str(job_id)]
    return [(str(job_id).rsplit(".", 1)[-1], status, "DEMO_POOL", 2, _spec(folder))]


@pytest.fixture
def sf() -> Iterator[OfflineSnowflake]:
    with offline_snowflake() as sf:
        sf.connection.answer(
            r"get_job_history",
            [
                (n, s, None, "SNOWBANK", "DEV", "ENGINEER", "DEMO_POOL", None, OLD, c, None)
                for n, s, c, _ in JOBS
            ],
            _HISTORY,
        )
        sf.connection.answer(
            r'AS "completed_time" FROM \(select \* from table\(snowflake\.spcs\.get_job_history',
            [(n, s, None, "SNOWBANK", "DEV", "ENGINEER", "DEMO_POOL", 2, OLD, c) for n, s, c, _ in JOBS],
            _LISTED,
        )
        sf.connection.answer(
            r"^DESCRIBE SERVICE IDENTIFIER\(\?\)$",
            _describe,
            [
                ("name", "TEXT"),
                ("status", "TEXT"),
                ("compute_pool", "TEXT"),
                ("target_instances", "FIXED"),
                ("spec", "TEXT"),
            ],
        )
        for folder in ("v1", "v2", "v3"):  # what each run's submission and training put on the stages
            sf.connection.upload_log += [
                Upload(f"@SNOWBANK.DEV.JOB_STAGE/{folder}/train_model/mljob_launcher.py", b"payload"),
                Upload(f"@SNOWBANK.DEV.DAG_STAGE/run_artifacts/{folder}/model.ubj", b"model"),
            ]
        yield sf


def _stage(sf: OfflineSnowflake) -> list[str]:
    return sorted(sf.uploads)


def test_expired_training_jobs_are_dropped_and_no_others(sf: OfflineSnowflake) -> None:
    gone = SnowflakeJobRunner(sf.session, NAMES).delete_jobs(CUTOFF)

    assert gone == ["SNOWBANK.DEV.TRAIN_MODEL_A", "SNOWBANK.DEV.TRAIN_MODEL_B"]
    dropped = [s.params for s in sf.connection.executed(r"^DROP SERVICE IDENTIFIER\(\?\)$")]
    assert dropped == [("SNOWBANK.DEV.TRAIN_MODEL_A",), ("SNOWBANK.DEV.TRAIN_MODEL_B",)]


def test_an_expired_jobs_model_folder_and_payload_leave_the_stages(sf: OfflineSnowflake) -> None:
    SnowflakeJobRunner(sf.session, NAMES).delete_jobs(CUTOFF)

    assert not [path for path in _stage(sf) if "/v1/" in path]


def test_a_folder_a_kept_job_still_uses_keeps_its_model_and_payload(sf: OfflineSnowflake) -> None:
    SnowflakeJobRunner(sf.session, NAMES).delete_jobs(CUTOFF)

    # v2's first attempt expired, but its retry (kept) trained into the same folder; v3's job is running
    assert _stage(sf) == [
        "@SNOWBANK.DEV.DAG_STAGE/run_artifacts/v2/model.ubj",
        "@SNOWBANK.DEV.DAG_STAGE/run_artifacts/v3/model.ubj",
        "@SNOWBANK.DEV.JOB_STAGE/v2/train_model/mljob_launcher.py",
        "@SNOWBANK.DEV.JOB_STAGE/v3/train_model/mljob_launcher.py",
    ]


def test_nothing_expired_reads_no_job(sf: OfflineSnowflake) -> None:
    assert SnowflakeJobRunner(sf.session, NAMES).delete_jobs(datetime(2026, 1, 1, tzinfo=UTC)) == []
    assert sf.connection.executed(r"^DESCRIBE SERVICE|^REMOVE|^DROP SERVICE") == []
