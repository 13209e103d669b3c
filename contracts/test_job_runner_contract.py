"""JobRunner contract (``domain.ports.JobRunner``), run against every selected backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from contracts.support import Backend
from domain.errors import InvalidConfig, JobFailed, NotFound
from domain.ports import JobRunner
from domain.refs import JobRef, JobStatus

METRIC_KEYS = {
    f"{split}_{m}"
    for split in ("train", "test")
    for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
}


@pytest.fixture
def runner(backend: Backend) -> JobRunner:
    return backend.jobs()


def test_the_runner_implements_the_port(runner: JobRunner) -> None:
    assert isinstance(runner, JobRunner)


def test_a_training_job_ends_done_with_the_full_metric_set(
    runner: JobRunner, training_data: Any, trains_models: None
) -> None:
    job = runner.submit_training(training_data.request(target_instances=2))
    assert runner.wait(job, timeout=120) is JobStatus.DONE
    assert set(runner.result(job).metrics) == METRIC_KEYS
    assert isinstance(runner.logs(job, 0), str)


def test_wait_returns_failed_and_result_raises_the_remote_error(
    runner: JobRunner, training_data: Any, trains_models: None
) -> None:
    job = runner.submit_training(training_data.request(train_labels=np.zeros(100)))
    assert runner.wait(job, timeout=120) is JobStatus.FAILED
    with pytest.raises(JobFailed, match="one class"):
        runner.result(job)


def test_cancelling_a_finished_job_is_a_no_op(runner: JobRunner, training_data: Any) -> None:
    job = runner.submit_training(training_data.request(train_labels=np.zeros(100)))
    status = runner.wait(job, timeout=120)
    runner.cancel(job)
    assert runner.status(job) is status


def test_more_instances_than_the_pool_allows_is_invalid(runner: JobRunner, training_data: Any) -> None:
    with pytest.raises(InvalidConfig, match="exceeds the max_nodes"):
        runner.submit_training(training_data.request(target_instances=1000))


def test_min_instances_above_target_is_invalid(runner: JobRunner, training_data: Any) -> None:
    with pytest.raises(InvalidConfig, match="min_instances"):
        runner.submit_training(training_data.request(target_instances=1, min_instances=2))


def test_an_unknown_pool_is_not_found(runner: JobRunner, training_data: Any) -> None:
    with pytest.raises(NotFound):
        runner.submit_training(training_data.request(compute_pool="NO_SUCH_POOL_XYZ"))


def test_a_pool_that_does_not_exist_is_refused_with_the_create_that_fixes_it(
    runner: JobRunner, training_data: Any
) -> None:
    with pytest.raises(NotFound, match="CREATE COMPUTE POOL IF NOT EXISTS NO_SUCH_POOL_XYZ MIN_NODES = 1"):
        runner.submit_training(training_data.request(compute_pool="NO_SUCH_POOL_XYZ"))


def test_checking_a_pool_that_holds_the_instances_passes(runner: JobRunner, training_data: Any) -> None:
    request = training_data.request()
    runner.check_pool(request.compute_pool, request.target_instances)


def test_checking_more_instances_than_the_pool_allows_names_the_alter_that_fixes_it(
    runner: JobRunner, training_data: Any
) -> None:
    pool = training_data.request().compute_pool
    with pytest.raises(
        InvalidConfig, match=r"exceeds the max_nodes .*ALTER COMPUTE POOL \S+ SET MAX_NODES = 1000"
    ):
        runner.check_pool(pool, 1000)


def test_checking_a_pool_that_does_not_exist_names_the_create_that_fixes_it(runner: JobRunner) -> None:
    with pytest.raises(NotFound, match="CREATE COMPUTE POOL IF NOT EXISTS NO_SUCH_POOL_XYZ MIN_NODES = 1"):
        runner.check_pool("NO_SUCH_POOL_XYZ", 2)


def test_an_unknown_job_is_not_found(runner: JobRunner) -> None:
    with pytest.raises(NotFound):
        runner.status(JobRef("SNOWBANK.DEV.NO_SUCH_JOB_0000"))
