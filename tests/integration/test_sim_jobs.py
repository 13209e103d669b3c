"""Simulated ML Jobs: N worker processes per job, supervised, persisted in the home."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import compute_pool_max_nodes, ensure_compute_pool
from adapters.simulator.jobs import cores as job_cores
from adapters.simulator.jobs import runner as jobs_module
from adapters.simulator.jobs import tracker
from adapters.simulator.jobs.runner import SimJobRunner
from domain.errors import InvalidConfig, InvalidName, JobFailed, JobTimeout, NotFound
from domain.refs import JobRef, JobStatus
from tests.support.processes import children_running, worker_pids
from tests.support.training_data import request_for


@pytest.fixture
def runner(account: LocalAccount) -> Iterator[SimJobRunner]:
    jobs = SimJobRunner(account, {"DEMO_POOL": 2})
    yield jobs
    jobs.close()


def wait_for_log(runner: SimJobRunner, job: JobRef, instance: int, text: str) -> None:
    deadline = time.monotonic() + 30
    while text not in runner.logs(job, instance):
        assert time.monotonic() < deadline, runner.logs(job, instance)
        time.sleep(0.05)


def sleeper(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def jobs_count() -> dict[str, str | None]:
    return {"count": os.environ.get("SNOWFLAKE_JOBS_COUNT"), "index": os.environ.get("SNOWFLAKE_JOB_INDEX")}


def threads_setting() -> str | None:
    return os.environ.get(job_cores.THREADS_VARIABLE)


def explode() -> None:
    raise ValueError("boom: the remote code failed")


def suicide() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fail_on_a_full_disk() -> None:
    """Fails, on a worker whose every later file write finds the disk full (leaving a 0-byte file, as one does)."""

    def disk_full(self: Path, *args: object, **kwargs: object) -> int:
        self.touch()
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    Path.write_text = disk_full  # type: ignore[method-assign]
    raise RuntimeError("the real failure, which cannot be written down")


def test_a_two_instance_training_job_trains_one_model_and_reports_it(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    job = runner.submit_training(request_for(account.files, target_instances=2))
    assert runner.wait(job, timeout=60) is JobStatus.DONE
    outcome = runner.result(job)
    assert Path(outcome.artifact.uri).is_file()
    assert outcome.metrics["test_accuracy"] > 0.7
    assert "instance 1 of 2" in runner.logs(job, 1)
    assert "ML job finished" in runner.logs(job, 0)


def test_the_trackers_port_is_closed_when_the_job_ends(runner: SimJobRunner, account: LocalAccount) -> None:
    job = runner.submit_training(request_for(account.files, target_instances=2))
    runner.wait(job, timeout=60)
    spec = json.loads((account.files / "jobs" / job.name / "spec.json").read_text())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", spec["communicator"]["dmlc_tracker_port"]), timeout=2)


def test_a_job_whose_supervising_process_is_gone_is_marked_failed(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    with account.cursor() as cur:
        cur.execute(
            "insert into ML_JOBS(ID, NAME, KIND, STATUS, TARGET_INSTANCES) "
            "values ('SNOWBANK.DEV.OLD_00000000', 'OLD_00000000', 'training', 'RUNNING', 1)"
        )
    job = JobRef("SNOWBANK.DEV.OLD_00000000")
    assert runner.wait(job, timeout=1) is JobStatus.FAILED
    with pytest.raises(JobFailed, match="process that supervised this job exited"):
        runner.result(job)


def test_opening_the_runner_settles_jobs_a_gone_process_left_unfinished(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    with account.cursor() as cur:
        cur.executemany(
            "insert into ML_JOBS(ID, NAME, KIND, STATUS, TARGET_INSTANCES) values (?, ?, 'training', ?, 1)",
            [[f"SNOWBANK.DEV.{s}_0", f"{s}_0", s] for s in ("RUNNING", "PENDING", "DONE")],
        )
    live = runner.submit_function(sleeper, args=(30,), compute_pool="DEMO_POOL")

    SimJobRunner(account, {})

    with account.cursor() as cur:
        rows = dict(cur.execute("select NAME, STATUS from ML_JOBS").fetchall())
    assert rows == {"RUNNING_0": "FAILED", "PENDING_0": "FAILED", "DONE_0": "DONE", live.name: "RUNNING"}


def test_a_job_finished_while_its_status_is_read_is_not_taken_for_an_orphan(
    runner: SimJobRunner, account: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    with account.cursor() as cur:
        cur.execute(
            "insert into ML_JOBS(ID, NAME, KIND, STATUS, TARGET_INSTANCES) "
            "values ('SNOWBANK.DEV.RACE_00000000', 'RACE_00000000', 'function', 'RUNNING', 1)"
        )
    real_lock = jobs_module._LIVE_LOCK

    @contextlib.contextmanager
    def supervisor_finishes_first() -> Iterator[None]:
        # The supervisor's last write lands after the reader's SELECT and before its look at the live jobs.
        with account.cursor() as cur:
            cur.execute(
                "update ML_JOBS set STATUS = 'DONE', RESULT = '42' where ID = 'SNOWBANK.DEV.RACE_00000000'"
            )
        with real_lock:
            yield

    monkeypatch.setattr(jobs_module, "_LIVE_LOCK", supervisor_finishes_first())
    job = JobRef("SNOWBANK.DEV.RACE_00000000")
    assert runner.status(job) is JobStatus.DONE
    monkeypatch.setattr(jobs_module, "_LIVE_LOCK", real_lock)
    assert runner.function_result(job) == 42


def test_training_jobs_finished_before_the_cutoff_go_with_their_folder_and_run_model_file(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    old = runner.submit_training(request_for(account.files, model_version="v20260101_000000"))
    assert runner.wait(old, timeout=60) is JobStatus.DONE
    artifact = Path(runner.result(old).artifact.uri)
    cutoff = datetime.now(UTC)
    new = runner.submit_training(request_for(account.files, model_version="v20260102_000000"))
    assert runner.wait(new, timeout=60) is JobStatus.DONE

    assert runner.delete_jobs(cutoff) == [old.id]

    assert not (account.files / "jobs" / old.name).exists() and not artifact.parent.exists()
    assert (account.files / "jobs" / new.name).is_dir() and Path(runner.result(new).artifact.uri).is_file()
    with pytest.raises(NotFound):
        runner.status(old)


def test_a_run_model_file_a_kept_job_of_a_retried_run_names_is_not_deleted(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    first = runner.submit_training(request_for(account.files, model_version="v20260101_000000"))
    assert runner.wait(first, timeout=60) is JobStatus.DONE
    cutoff = datetime.now(UTC)
    retried = runner.submit_training(request_for(account.files, model_version="v20260101_000000"))
    assert runner.wait(retried, timeout=60) is JobStatus.DONE

    assert runner.delete_jobs(cutoff) == [first.id]

    assert Path(runner.result(retried).artifact.uri).is_file()


def test_a_quoted_job_name_cannot_leave_the_jobs_folder(runner: SimJobRunner, account: LocalAccount) -> None:
    job = runner.submit_function(sleeper, args=(0,), compute_pool="DEMO_POOL", name='"../../escape/x"')
    assert runner.wait(job, timeout=30) is JobStatus.DONE
    assert runner.function_result(job) == "slept"
    assert not (account.home / "escape").exists() and not (account.files / "escape").exists()
    (folder,) = (account.files / "jobs").iterdir()
    assert (folder / "instance-0.log").is_file()


def test_job_ids_are_qualified_and_named_after_the_payload(runner: SimJobRunner) -> None:
    job = runner.submit_function(sleeper, args=(0,), compute_pool="demo_pool")
    database, schema, name = job.id.split(".")
    assert (database, schema) == ("SNOWBANK", "DEV")
    assert name.startswith("SLEEPER_") and len(name) == len("SLEEPER_") + 8
    runner.wait(job, timeout=30)


def test_status_and_times_are_persisted_in_the_home(tmp_path: Path) -> None:
    with LocalAccount(tmp_path / "home") as account:
        job = SimJobRunner(account).submit_function(sleeper, args=(0,), compute_pool="DEMO_POOL")
        assert SimJobRunner(account).wait(job, timeout=30) is JobStatus.DONE
    with LocalAccount(tmp_path / "home") as reopened:
        again = SimJobRunner(reopened)
        assert again.status(job) is JobStatus.DONE
        assert again.function_result(job) == "slept"
        with reopened.cursor() as cur:
            started, completed = cur.execute(
                "select STARTED_ON, COMPLETED_ON from ML_JOBS where ID = ?", [job.id]
            ).fetchone()
        assert started <= completed


def test_a_function_runs_once_on_the_head_and_sees_the_instance_count(runner: SimJobRunner) -> None:
    job = runner.submit_function(jobs_count, compute_pool="DEMO_POOL", target_instances=2)
    assert runner.function_result(job, timeout=30) == {"count": "2", "index": "0"}
    assert "the function runs on the head" in runner.logs(job, 1)


def test_the_instances_of_a_job_share_the_machines_cores(runner: SimJobRunner) -> None:
    job = runner.submit_function(threads_setting, compute_pool="DEMO_POOL", target_instances=2)
    assert runner.function_result(job, timeout=30) == str(max(1, len(os.sched_getaffinity(0)) // 2))


@pytest.mark.parametrize(("cores", "instances", "threads"), [(2, 1, 2), (2, 2, 1), (2, 3, 1), (8, 3, 2)])
def test_threads_per_instance_divides_the_usable_cores_and_never_drops_below_one(
    monkeypatch: pytest.MonkeyPatch, cores: int, instances: int, threads: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert job_cores.threads_per_instance(instances) == threads


def test_a_remote_exception_fails_the_job_with_its_text(runner: SimJobRunner) -> None:
    job = runner.submit_function(explode, compute_pool="DEMO_POOL")
    assert runner.wait(job, timeout=30) is JobStatus.FAILED
    with pytest.raises(JobFailed, match="ValueError: boom: the remote code failed"):
        runner.function_result(job)
    assert "Traceback" in runner.logs(job)


def test_a_result_that_is_not_json_fails_the_job(runner: SimJobRunner) -> None:
    job = runner.submit_function(object, compute_pool="DEMO_POOL", name="make_object")
    with pytest.raises(JobFailed, match="not JSON-serialisable"):
        runner.function_result(job, timeout=30)


def test_bad_training_data_ends_the_job_failed_with_the_reason(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    request = request_for(account.files, train_labels=np.ones(200), target_instances=2)
    job = runner.submit_training(request)
    assert runner.wait(job, timeout=60) is JobStatus.FAILED
    with pytest.raises(JobFailed, match="only one class"):
        runner.result(job)


def test_invalid_hyperparameters_end_the_job_failed(runner: SimJobRunner, account: LocalAccount) -> None:
    job = runner.submit_training(request_for(account.files, params={"max_depth": -1}))
    with pytest.raises(JobFailed, match="invalid hyperparameters"):
        runner.result(job, timeout=60)


def test_a_worker_killed_by_a_signal_fails_the_job(runner: SimJobRunner) -> None:
    job = runner.submit_function(suicide, compute_pool="DEMO_POOL")
    assert runner.wait(job, timeout=30) is JobStatus.FAILED
    with pytest.raises(JobFailed, match="instance 0 exited with signal SIGKILL"):
        runner.function_result(job)


def test_a_worker_that_cannot_write_its_error_on_a_full_disk_fails_the_job_saying_so(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    job = runner.submit_function(fail_on_a_full_disk, compute_pool="DEMO_POOL")
    assert runner.wait(job, timeout=30) is JobStatus.FAILED
    job_dir = account.files / "jobs" / job.name
    with pytest.raises(JobFailed, match=re.escape(f"instance 0 failed: no space left on {job_dir}")):
        runner.function_result(job)
    assert [p.name for p in job_dir.iterdir() if p.name.startswith(".")] == []  # no partial files left


def test_the_collective_tracker_runs_in_its_own_process_and_ends_with_the_job(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    # XGBoost's native tracker can abort the process it runs in when a worker dies: never the simulator's own
    job = runner.submit_training(request_for(account.files, target_instances=2, num_boost_round=1_000_000))
    wait_for_log(runner, job, 1, "ML job started")

    assert len(children_running(tracker.__name__)) == 1
    runner.cancel(job)
    assert runner.wait(job, timeout=30) is JobStatus.CANCELLED
    assert children_running(tracker.__name__) == []


def test_when_one_worker_dies_the_others_are_stopped_promptly(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    request = request_for(account.files, target_instances=2, num_boost_round=1_000_000)
    job = runner.submit_training(request)
    wait_for_log(runner, job, 1, "ML job started")
    time.sleep(0.5)
    pids = worker_pids(job)
    assert len(pids) == 2
    victim = next(p for p in pids if (Path(f"/proc/{p}/cmdline").read_bytes().endswith(b"\x001\x00")))
    os.kill(victim, signal.SIGKILL)
    assert runner.wait(job, timeout=10) is JobStatus.FAILED
    with pytest.raises(JobFailed, match="instance 1 exited with signal SIGKILL"):
        runner.result(job)
    assert worker_pids(job) == []


def test_wait_times_out_and_cancel_stops_the_job(runner: SimJobRunner) -> None:
    job = runner.submit_function(sleeper, args=(60,), compute_pool="DEMO_POOL")
    with pytest.raises(JobTimeout, match=r"did not complete within 0\.2 seconds"):
        runner.wait(job, timeout=0.2)
    runner.cancel(job)
    assert runner.status(job) is JobStatus.CANCELLED
    assert worker_pids(job) == []
    with pytest.raises(JobFailed, match="CANCELLED"):
        runner.function_result(job)


def test_cancelling_a_finished_job_changes_nothing(runner: SimJobRunner) -> None:
    job = runner.submit_function(sleeper, args=(0,), compute_pool="DEMO_POOL")
    runner.wait(job, timeout=30)
    runner.cancel(job)
    assert runner.status(job) is JobStatus.DONE


def test_an_unknown_pool_is_not_found(runner: SimJobRunner, account: LocalAccount) -> None:
    with pytest.raises(NotFound, match="compute pool GPU_POOL"):
        runner.submit_training(request_for(account.files, compute_pool="GPU_POOL"))


def test_a_missing_pool_is_refused_with_the_create_statement_that_fixes_it(account: LocalAccount) -> None:
    runner = SimJobRunner(account, pools={})

    with pytest.raises(NotFound) as caught:
        runner.submit_function(sleeper, args=(0,), compute_pool="DEMO_POOL", target_instances=2)

    assert "CREATE COMPUTE POOL IF NOT EXISTS DEMO_POOL MIN_NODES = 1 MAX_NODES = 2" in str(caught.value)
    assert "python -m app setup" in str(caught.value)


def test_a_job_runs_on_a_pool_the_account_holds_without_the_runner_naming_it(
    account: LocalAccount,
) -> None:
    with account.transaction() as cur:
        ensure_compute_pool(cur, "SMALL_POOL", 1)
    runner = SimJobRunner(account, pools={})

    job = runner.submit_function(sleeper, args=(0,), compute_pool="small_pool")

    assert runner.wait(job, timeout=30) is JobStatus.DONE
    with pytest.raises(InvalidConfig, match=r"exceeds the max_nodes \(1\) of compute pool SMALL_POOL"):
        runner.submit_function(sleeper, args=(0,), compute_pool="SMALL_POOL", target_instances=2)


def test_pools_given_to_the_runner_are_created_once_and_keep_their_size(account: LocalAccount) -> None:
    SimJobRunner(account, pools={"DEMO_POOL": 3})
    SimJobRunner(account, pools={"DEMO_POOL": 1})  # IF NOT EXISTS: the pool keeps MAX_NODES 3

    with account.cursor() as cur:
        assert compute_pool_max_nodes(cur, "DEMO_POOL") == 3


def test_more_instances_than_the_pool_has_nodes_is_refused(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    with pytest.raises(
        InvalidConfig,
        match=r"The requested target_instances \(3\) exceeds the max_nodes \(2\) of compute pool DEMO_POOL",
    ):
        runner.submit_training(request_for(account.files, target_instances=3))


@pytest.mark.parametrize("minimum", [0, 3])
def test_min_instances_must_be_between_one_and_the_target(
    runner: SimJobRunner, account: LocalAccount, minimum: int
) -> None:
    with pytest.raises(InvalidConfig, match="0 < min_instances <= target_instances"):
        runner.submit_training(request_for(account.files, target_instances=2, min_instances=minimum))


def test_an_invalid_model_version_is_refused_at_submission(
    runner: SimJobRunner, account: LocalAccount
) -> None:
    with pytest.raises(InvalidName, match="model version"):
        runner.submit_training(request_for(account.files, model_version="../../etc"))


def test_a_function_with_an_unpicklable_argument_is_refused_at_submission(runner: SimJobRunner) -> None:
    with pytest.raises(InvalidConfig, match="cannot be pickled"):
        runner.submit_function(sleeper, args=(threading.Lock(),), compute_pool="DEMO_POOL")


def test_an_unknown_job_is_not_found(runner: SimJobRunner) -> None:
    with pytest.raises(NotFound, match="NOPE_1234"):
        runner.status(JobRef("SNOWBANK.DEV.NOPE_1234"))


def test_logs_of_an_instance_the_job_does_not_have_are_refused(runner: SimJobRunner) -> None:
    job = runner.submit_function(sleeper, args=(0,), compute_pool="DEMO_POOL")
    runner.wait(job, timeout=30)
    with pytest.raises(InvalidConfig, match=r"instances 0\.\.0"):
        runner.logs(job, 1)
