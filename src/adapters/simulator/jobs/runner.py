"""ML Jobs on the simulator: N local worker processes per job, supervised from the submitting process.

A job is a payload on a named compute pool with ``target_instances`` N. The pool must exist in the account
(``account_objects.ensure_compute_pool``; setup creates the configured one), as on Snowflake: a job on any
other pool is refused with the CREATE statement that fixes it. A supervisor thread starts XGBoost's
tracker (for training), launches the N ``job_worker`` processes with their output going to per-instance logs,
and watches all of them: when one dies (a signal, out of memory) or fails, it kills the others at once — the
collective would otherwise wait forever — and the job ends FAILED with that instance's error. Status, times,
errors and results live in the home's ``ML_JOBS`` table; logs, spec and result files under
``files/jobs/<name>/`` (the name %-encoded as dataset folders are).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cloudpickle

from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.errors import translated
from adapters.simulator.account.folders import path_segment, remove_tree
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import compute_pool_max_nodes, ensure_compute_pool, render_part
from adapters.simulator.jobs import tracker, worker
from adapters.simulator.jobs.cores import THREADS_VARIABLE, threads_per_instance
from adapters.simulator.jobs.worker import (
    NO_SPACE_EXIT,
    RESULT_FILE,
    SPEC_FILE,
    error_file,
    write_json,
)
from domain.errors import InvalidConfig, JobFailed, JobTimeout, NotFound
from domain.names import normalize_identifier, validate_version
from domain.readiness import create_compute_pool_sql
from domain.refs import JobRef, JobStatus, TrainingOutcome, TrainingRequest

# XGBoost (and the training module, which loads pyarrow's dataset layer) are imported where a job trains: the
# runner is built for every command on a home, and read-only ones must not pay a second for them.

DEFAULT_POOLS: Mapping[str, int] = {"DEMO_POOL": 2}
_POLL_SECONDS = 0.05
# After the first failure, how long to let the other instances settle so the root cause is reported
# (a killed worker usually makes its peers fail with a communication error a moment later).
_SETTLE_SECONDS = 0.3
_TRACKER_TIMEOUT_SECONDS = 120
_DDL = """
create table if not exists ML_JOBS(
    ID VARCHAR, NAME VARCHAR, KIND VARCHAR, STATUS VARCHAR, COMPUTE_POOL VARCHAR,
    TARGET_INSTANCES INTEGER, MIN_INSTANCES INTEGER, CREATED_ON TIMESTAMP, STARTED_ON TIMESTAMP,
    COMPLETED_ON TIMESTAMP, MESSAGE VARCHAR, RESULT VARCHAR)
"""


def _start_tracker(workers: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """XGBoost's tracker in its own process (jobs/tracker.py says why), and the workers' communicator arguments."""
    proc = subprocess.Popen(
        [sys.executable, "-m", tracker.__name__, str(workers), str(_TRACKER_TIMEOUT_SECONDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        code = proc.wait()
        raise RuntimeError(f"XGBoost's collective tracker exited with status {code} before it started")
    return proc, json.loads(line)


def _stop_tracker(proc: subprocess.Popen[str]) -> None:
    """Close the tracker's stdin (it frees itself and exits); kill it if it does not within a few seconds."""
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _Supervisor(threading.Thread):
    """Runs one job's worker processes to completion, cancellation or the first failure."""

    def __init__(
        self, runner: SimJobRunner, job_id: str, spec: dict[str, Any], job_dir: Path, payload: bytes | None
    ) -> None:
        super().__init__(name=f"ml-job-{spec['name']}", daemon=True)
        self.runner, self.job_id, self.spec, self.job_dir, self.payload = (
            runner,
            job_id,
            spec,
            job_dir,
            payload,
        )
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self.procs: list[subprocess.Popen[bytes]] = []
        # The thread that submitted the job (a task's thread): a task that times out or is cancelled is
        # abandoned by the engine, and its jobs are cancelled with it (``cancel_submitted_by``).
        self.submitter = threading.get_ident()

    def run(self) -> None:
        tracking: subprocess.Popen[str] | None = None
        status, message, result = JobStatus.FAILED, "", None
        try:
            self.runner._update(self.job_id, status=JobStatus.RUNNING, started_on=catalog_now())
            n = self.spec["target_instances"]
            if self.spec["kind"] == "training" and n > 1:
                tracking, self.spec["communicator"] = _start_tracker(n)
            write_json(self.job_dir / SPEC_FILE, self.spec)
            for instance in range(n):  # one by one, so a failure part-way still kills those started
                self.procs.append(self._spawn(instance))
            status, message = self._watch()
            if status is JobStatus.DONE:
                result = json.dumps(json.loads((self.job_dir / RESULT_FILE).read_text())["value"])
        except Exception as exc:  # the supervisor itself failed: report it on the job, never hang
            status, message = (
                JobStatus.FAILED,
                f"the simulator could not run the job: {type(exc).__name__}: {exc}",
            )
        finally:
            self._kill_all()
            if tracking is not None:
                _stop_tracker(tracking)
            try:
                self.runner._update(
                    self.job_id, status=status, completed_on=catalog_now(), message=message, result=result
                )
            finally:
                with _LIVE_LOCK:
                    _LIVE.pop(self.job_id, None)
                self.finished.set()

    def _spawn(self, instance: int) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "SNOWFLAKE_JOBS_COUNT": str(self.spec["target_instances"]),
            "SNOWFLAKE_JOB_INDEX": str(instance),
            "MLRS_MIN_INSTANCES": str(self.spec["min_instances"]),
            "PYTHONUNBUFFERED": "1",
            # N instances share this machine's cores instead of each claiming them all (oversubscribed OpenMP
            # threads spin-wait on each other), also for a function job's own XGBoost or NumPy calls.
            THREADS_VARIABLE: str(threads_per_instance(self.spec["target_instances"])),
            # The submitter's import path, so a function defined in its modules unpickles in the worker.
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        }
        feeds = self.payload is not None and instance == 0
        with open(self.job_dir / f"instance-{instance}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", worker.__name__, str(self.job_dir), str(instance)],
                stdin=subprocess.PIPE if feeds else subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        if feeds and proc.stdin is not None:
            # A worker that died before reading its payload is reported by _watch with its exit status.
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(self.payload or b"")
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        return proc

    def _watch(self) -> tuple[JobStatus, str]:
        while True:
            if self.cancelled.is_set():
                return JobStatus.CANCELLED, "the job was cancelled"
            codes = [p.poll() for p in self.procs]
            if any(c not in (None, 0) for c in codes):
                time.sleep(_SETTLE_SECONDS)
                return JobStatus.FAILED, self._root_cause([p.poll() for p in self.procs])
            if all(c == 0 for c in codes):
                return JobStatus.DONE, ""
            self.cancelled.wait(_POLL_SECONDS)

    def _root_cause(self, codes: list[int | None]) -> str:
        killed = [(i, c) for i, c in enumerate(codes) if c is not None and c < 0]
        if killed:
            i, code = killed[0]
            name = signal.Signals(-code).name
            hint = " (killed, e.g. out of memory)" if name == "SIGKILL" else ""
            return f"instance {i} exited with signal {name}{hint}"
        i, code = next((i, c) for i, c in enumerate(codes) if c not in (None, 0))
        error = self.job_dir / error_file(i)
        if error.exists():
            return f"instance {i} failed: {json.loads(error.read_text())['error']}"
        if code == NO_SPACE_EXIT:
            return f"instance {i} failed: no space left on {self.job_dir}; free some space and run again"
        return f"instance {i} exited with code {code}"

    def _kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            proc.wait()


def _job_folder(name: str) -> tuple[str, str]:
    """A job's folder under the files area: quoted job names may hold ``/`` or ``..``, so the name is encoded."""
    return "jobs", path_segment(name)


def _run_folder(result: str) -> Path:
    """The folder of the run model file a DONE training job's result names."""
    return Path(TrainingOutcome.from_json(result).artifact.uri).parent


_LIVE: dict[str, _Supervisor] = {}
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_live_jobs() -> None:
    """Workers run in their own sessions; never leave them running when the submitting process exits."""
    with _LIVE_LOCK:
        supervisors = list(_LIVE.values())
    for sup in supervisors:
        sup.cancelled.set()
        sup._kill_all()


class SimJobRunner:
    """``domain.ports.JobRunner`` on local processes, plus ``submit_function`` (``@remote`` head mode).

    ``pools`` (name → MAX_NODES) are created in the account when missing (``CREATE COMPUTE POOL IF NOT
    EXISTS``), a convenience for scripts and tests on a fresh account; an existing pool keeps its size. The
    application passes none, so its jobs run only on pools that setup (or the user) created.
    """

    def __init__(
        self,
        account: LocalAccount,
        pools: Mapping[str, int] = DEFAULT_POOLS,
        *,
        database: str = "SNOWBANK",
        schema: str = "DEV",
    ) -> None:
        self.account = account
        self.database = normalize_identifier(database, "database")
        self.schema = normalize_identifier(schema, "schema")
        with translated("creating the ML_JOBS table"), account.transaction() as cur:
            cur.execute(_DDL)
            for pool, max_nodes in pools.items():
                ensure_compute_pool(cur, pool, max_nodes)
        with _LIVE_LOCK:  # jobs this process supervises are live; any other unfinished one is an orphan
            live = list(_LIVE)
        self._settle_orphans(live=live)

    # --- submission ---

    def submit_training(self, request: TrainingRequest) -> JobRef:
        # Refuse what can be judged here before any process starts; the data is checked where it is read.
        validate_version(request.model_version, "model version")
        from adapters.simulator.jobs.training import booster_params

        booster_params(request)
        return self._submit(
            kind="training",
            base="TRAIN_MODEL",
            compute_pool=request.compute_pool,
            target_instances=request.target_instances,
            min_instances=request.min_instances,
            extra={"request": request.to_dict(), "files_root": str(self.account.files)},
            payload=None,
        )

    def submit_function(
        self,
        func: Callable[..., Any],
        *,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        compute_pool: str,
        target_instances: int = 1,
        min_instances: int | None = None,
        name: str | None = None,
        session: Mapping[str, Any] | None = None,
        session_argument: bool = False,
    ) -> JobRef:
        """Run ``func(*args, **kwargs)`` once on the head; its return value (JSON) is the result.

        ``session``: the options of a Snowpark session (``sql.session.session_options``) the head opens and makes
        active (``get_active_session()``), passed first to ``func`` when ``session_argument``."""
        if session_argument and session is None:
            raise InvalidConfig(f"the function {name or func!r} takes a session: pass session=... options")
        base = name if name is not None else getattr(func, "__name__", "")
        if name is None and not base.isidentifier():
            base = "JOB"  # lambdas and callables without a usable name
        try:
            payload = cloudpickle.dumps((func, tuple(args), dict(kwargs or {})))
        except Exception as exc:
            raise InvalidConfig(
                f"the function {base!r} or its arguments cannot be pickled: {exc}. A job runs in its own "
                f"processes and cannot hold a session to the home; pass names and references instead"
            ) from exc
        return self._submit(
            kind="function",
            base=base,
            compute_pool=compute_pool,
            target_instances=target_instances,
            min_instances=min_instances,
            extra={
                "session": None if session is None else dict(session),
                "session_argument": session_argument,
            },
            payload=payload,
        )

    def _submit(
        self,
        *,
        kind: str,
        base: str,
        compute_pool: str,
        target_instances: int,
        min_instances: int | None,
        extra: dict[str, Any],
        payload: bytes | None,
    ) -> JobRef:
        pool, target, minimum = self._check_pool(compute_pool, target_instances, min_instances)
        name = f"{normalize_identifier(base, 'job')}_{uuid.uuid4().hex[:8].upper()}"
        job_id = f"{self.database}.{self.schema}.{name}"
        job_dir = self.account.path(*_job_folder(name), SPEC_FILE).parent
        spec = {"kind": kind, "name": name, "target_instances": target, "min_instances": minimum, **extra}
        supervisor = _Supervisor(self, job_id, spec, job_dir, payload)
        # Registered before the row exists, so no reader takes the new job for an orphan.
        with _LIVE_LOCK:
            _LIVE[job_id] = supervisor
        try:
            with translated(f"recording job {job_id}"), self.account.cursor() as cur:
                cur.execute(
                    "insert into ML_JOBS(ID, NAME, KIND, STATUS, COMPUTE_POOL, TARGET_INSTANCES, "
                    "MIN_INSTANCES, CREATED_ON) values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [job_id, name, kind, JobStatus.PENDING.value, pool, target, minimum, catalog_now()],
                )
        except BaseException:
            with _LIVE_LOCK:
                _LIVE.pop(job_id, None)
            raise
        supervisor.start()
        return JobRef(job_id)

    def check_pool(self, compute_pool: str, target_instances: int, min_instances: int | None = None) -> None:
        self._check_pool(compute_pool, target_instances, min_instances)

    def _check_pool(self, compute_pool: str, target: int, minimum: int | None) -> tuple[str, int, int]:
        pool = normalize_identifier(compute_pool, "compute pool")
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise InvalidConfig(f"target_instances must be a positive integer, got {target!r}")
        with translated(f"reading compute pool {pool}"), self.account.cursor() as cur:
            max_nodes = compute_pool_max_nodes(cur, pool)
        if max_nodes is None:
            raise NotFound(
                f"compute pool {render_part(pool)} does not exist or not authorized: "
                f"{create_compute_pool_sql(render_part(pool), max(target, 2))} "
                "(python -m app setup creates the configured pool)"
            )
        if target > max_nodes:
            raise InvalidConfig(
                f"The requested target_instances ({target}) exceeds the max_nodes ({max_nodes}) "
                f"of compute pool {render_part(pool)}: ALTER COMPUTE POOL {render_part(pool)} SET MAX_NODES = "
                f"{target}, or lower target_instances"
            )
        minimum = target if minimum is None else minimum
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 < minimum <= target:
            raise InvalidConfig(
                f"min_instances must satisfy 0 < min_instances <= target_instances ({target}), "
                f"got {minimum!r}"
            )
        return pool, target, minimum

    # --- observing ---

    def status(self, job: JobRef) -> JobStatus:
        return JobStatus(self._row(job)["STATUS"])

    def wait(self, job: JobRef, timeout: float | None = None) -> JobStatus:
        """The terminal status; ``timeout`` None or negative waits without limit (as ``MLJob.wait(-1)``)."""
        row = self._row(job)
        with _LIVE_LOCK:
            supervisor = _LIVE.get(row["ID"])
        if supervisor is not None:
            limit = None if timeout is None or timeout < 0 else timeout
            if not supervisor.finished.wait(limit):
                raise JobTimeout(f"Job {row['NAME']} did not complete within {timeout} seconds")
        return self.status(job)

    def result(self, job: JobRef, timeout: float | None = None) -> TrainingOutcome:
        row = self._finished_row(job, timeout)
        if row["KIND"] != "training":
            raise InvalidConfig(f"job {row['ID']} ran a function, not training; use function_result")
        return TrainingOutcome.from_json(row["RESULT"])

    def function_result(self, job: JobRef, timeout: float | None = None) -> Any:
        return json.loads(self._finished_row(job, timeout)["RESULT"])

    def _finished_row(self, job: JobRef, timeout: float | None) -> dict[str, Any]:
        status = self.wait(job, timeout)
        row = self._row(job)
        if status is not JobStatus.DONE:
            raise JobFailed(f"Job {row['ID']} ended {status.value}: {row['MESSAGE']}")
        return row

    def logs(self, job: JobRef, instance: int = 0) -> str:
        """One instance's output (0 is the head); empty until the instance starts."""
        row = self._row(job)
        if not 0 <= instance < row["TARGET_INSTANCES"]:
            raise InvalidConfig(
                f"instance {instance} is out of range: job {row['ID']} has instances "
                f"0..{row['TARGET_INSTANCES'] - 1}"
            )
        path = self.account.files.joinpath(*_job_folder(row["NAME"]), f"instance-{instance}.log")
        with translated(f"reading the log of {row['ID']} instance {instance}"):
            return path.read_text(errors="replace") if path.exists() else ""

    def cancel(self, job: JobRef) -> None:
        """Kill the job's workers; the job ends CANCELLED. A finished job is left as it is."""
        row = self._row(job)
        with _LIVE_LOCK:
            supervisor = _LIVE.get(row["ID"])
        if supervisor is not None:
            supervisor.cancelled.set()
            supervisor.finished.wait()

    def cancel_submitted_by(self, thread_id: int) -> None:
        """Cancel, without waiting, the unfinished jobs the thread ``thread_id`` submitted (an abandoned task's)."""
        with _LIVE_LOCK:
            theirs = [
                s for s in _LIVE.values() if s.runner.account is self.account and s.submitter == thread_id
            ]
        for supervisor in theirs:
            supervisor.cancelled.set()

    def delete_jobs(self, finished_before: datetime) -> list[str]:
        """Training jobs that ended before ``finished_before`` go: row, job folder and the run's model file (the
        registry keeps its own copy). A folder that cannot be deleted is a warning, never a failed cleanup."""
        finished = [s.value for s in JobStatus if s.is_terminal]
        with translated("listing finished jobs"), self.account.cursor() as cur:
            listed = cur.execute(
                "select ID, NAME, RESULT, KIND = 'training' and COMPLETED_ON < ? "
                f"and STATUS in ({', '.join('?' for _ in finished)}) from ML_JOBS",
                [finished_before.astimezone(UTC).replace(tzinfo=None), *finished],
            ).fetchall()
        rows = [(job_id, name, result) for job_id, name, result, expired in listed if expired]
        # A retried run trains again into its version's folder: a model file a kept job names stays.
        kept = {_run_folder(result) for _, _, result, expired in listed if not expired and result}
        for job_id, name, result in rows:
            folders = [self.account.files.joinpath(*_job_folder(name))]
            if result and _run_folder(result) not in kept:  # a DONE job's outcome names its run's model file
                folders.append(_run_folder(result))
            with translated(f"deleting job {job_id}"), self.account.cursor() as cur:
                cur.execute("delete from ML_JOBS where ID = ?", [job_id])
            for folder in folders:
                remove_tree(folder, f"job {job_id}")
        return [job_id for job_id, _, _ in rows]

    def close(self) -> None:
        """Cancel this account's running jobs and wait for their workers to exit."""
        with _LIVE_LOCK:
            mine = [s for s in _LIVE.values() if s.runner.account is self.account]
        for supervisor in mine:
            supervisor.cancelled.set()
            supervisor.finished.wait()

    # --- persistence ---

    def _row(self, job: JobRef) -> dict[str, Any]:
        row = self._select(job)
        if not JobStatus(row["STATUS"]).is_terminal:
            with _LIVE_LOCK:
                orphaned = row["ID"] not in _LIVE
            if orphaned:
                self._settle_orphans(row["ID"])
                row = self._select(job)
        return row

    def _settle_orphans(self, job_id: str | None = None, live: Collection[str] = ()) -> None:
        """Unfinished jobs (``job_id``, else all but the ``live`` ones) become FAILED: their supervisor is gone.

        Jobs are supervised by the process that submitted them, and DuckDB lets one process open a home: an
        unfinished row without a supervisor here belongs to a process that is gone (kill -9, a crash) — or its
        supervisor finished the job since the row was read, so only a still unfinished row is changed.
        """
        message = "the process that supervised this job exited before the job finished"
        unfinished = [s.value for s in JobStatus if not s.is_terminal]
        where = f"STATUS in ({', '.join('?' for _ in unfinished)})"
        if live:
            where += f" and ID not in ({', '.join('?' for _ in live)})"
        if job_id is not None:
            where += " and ID = ?"
        with (
            translated(f"settling jobs left unfinished in {self.account.home}"),
            self.account.cursor() as cur,
        ):
            cur.execute(
                f"update ML_JOBS set STATUS = ?, COMPLETED_ON = ?, MESSAGE = ? where {where}",
                [
                    JobStatus.FAILED.value,
                    catalog_now(),
                    message,
                    *unfinished,
                    *live,
                    *([job_id] if job_id else []),
                ],
            )

    def _select(self, job: JobRef) -> dict[str, Any]:
        with translated(f"reading job {job.id}"), self.account.cursor() as cur:
            rel = cur.execute("select * from ML_JOBS where ID = ? or NAME = ?", [job.id, job.id])
            names = [d[0] for d in rel.description]
            found = rel.fetchone()
        if found is None:
            raise NotFound(f"Job {job.id} does not exist or not authorized")
        return dict(zip(names, found, strict=True))

    def _update(self, job_id: str, **values: Any) -> None:
        columns = ", ".join(f"{k.upper()} = ?" for k in values)
        params = [v.value if isinstance(v, JobStatus) else v for v in values.values()]
        with translated(f"updating job {job_id}"), self.account.cursor() as cur:
            cur.execute(f"update ML_JOBS set {columns} where ID = ?", [*params, job_id])
