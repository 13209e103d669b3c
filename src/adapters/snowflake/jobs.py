"""JobRunner on ``snowflake.ml.jobs``: training submitted with ``@remote`` on the compute pool, then followed.

The payload is ``training_payload.train_in_job``. ``remote`` pickles a copy of it by value, and what it calls
(``domain``, ``adapters``) by reference, so both packages travel with the job as ``imports``. They are passed
as module objects: snowflake.ml resolves a module through its ``__path__`` and, when that lies inside a zip
(as in a stored procedure, which imports the project from the zips a deploy uploaded), uploads that zip as it
is (snowflake/ml/jobs/_utils/payload_utils.py ``resolve_import_path``, ``get_zip_file_from_path``,
``upload_imports``); from a source tree it zips the folder under the package's name. A path derived from
``__file__`` would point inside ``adapters.zip``, where nothing can be read as a folder.

Each run submits to its own stage folder: snowflake.ml puts the payload at ``<stage_name>/<name>``
(snowflake/ml/jobs/_utils/object_naming.py ``build_object_stage_path``), so one shared ``name`` would let two
runs overwrite each other's payload, and ``delete_job`` of one run (``REMOVE <stage path>/``,
snowflake/ml/jobs/manager.py) would wipe the others'.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import pandas as pd

import adapters
import domain
from adapters.snowflake.errors import vendor_errors
from adapters.snowflake.rows import row_dict
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.sql_text import string_literal
from adapters.snowflake.training_payload import train_in_job
from domain.errors import InvalidConfig, JobFailed, NotFound
from domain.names import normalize_identifier
from domain.readiness import create_compute_pool_sql
from domain.refs import JobRef, JobStatus, TrainingOutcome, TrainingRequest

# A model version names a stage folder: snowflake.ml accepts [\w\-./] in a stage path's relative part
# (snowflake/ml/jobs/_utils/stage_utils.py _RELPATH_PATTERN); '.' and '/' would make nested or relative folders.
_RUN_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
JOB_NAME = "train_model"  # the job definition's name: its payload is <job stage>/<run folder>/train_model

log = logging.getLogger(__name__)


def pool_fix(names: SnowflakeNames, pool: str, nodes: int = 2) -> str:
    """The statements that create compute pool ``pool`` for ``nodes`` instances and grant it to the role."""
    grant = f"GRANT USAGE ON COMPUTE POOL {pool} TO ROLE {names.role}"
    return f"{create_compute_pool_sql(pool, max(nodes, 2))}; {grant}"


def run_folder(model_version: str) -> str:
    """``model_version`` as the name of its run's stage folder (payload and artifacts)."""
    if not _RUN_FOLDER.match(model_version):
        raise InvalidConfig(
            f"model version {model_version!r} cannot name a stage folder: use letters, digits, '_' and '-' "
            "(runs are named vYYYYmmdd_HHMMSS)"
        )
    return model_version


def job_status(job: JobRef, status: object) -> JobStatus:
    """``MLJob.status`` / ``MLJob.wait()`` as the domain's status; ``DELETED`` (not a port state) is NotFound."""
    if str(status) == "DELETED":
        raise NotFound(f"job {job.id} was deleted (DROP SERVICE or delete_job); its status and logs are gone")
    return JobStatus(str(status))


class SnowflakeJobRunner:
    """The JobRunner port on a real account; job payloads go to ``names.job_stage``."""

    def __init__(self, session: Any, names: SnowflakeNames | None = None) -> None:
        self._session = session
        self.names = names or SnowflakeNames()

    def _pool_max_nodes(self, pool: str) -> int:
        stored = normalize_identifier(pool, "compute pool")  # validated before it reaches SQL
        with vendor_errors(f"compute pool {pool}", fix=pool_fix(self.names, pool)):
            rows = self._session.sql(f"SHOW COMPUTE POOLS LIKE {string_literal(stored)}").collect()
        for row in rows:
            data = row_dict(row, "lower")
            if str(data.get("name", "")) == stored:
                return int(data["max_nodes"])
        raise NotFound(f"compute pool {pool} does not exist or is not visible: {pool_fix(self.names, pool)}")

    def check_pool(self, compute_pool: str, target_instances: int, min_instances: int | None = None) -> None:
        max_nodes = self._pool_max_nodes(compute_pool)
        if target_instances < 1 or target_instances > max_nodes:
            # snowflake.ml's own wording (jobs/_utils/payload_utils.py / job_definition.py), plus the fix
            raise InvalidConfig(
                f"The requested target_instances ({target_instances}) exceeds the max_nodes ({max_nodes}) of "
                f"compute pool {compute_pool}: ALTER COMPUTE POOL {compute_pool} SET MAX_NODES = "
                f"{max(target_instances, 1)}, or lower target_instances"
            )
        minimum = target_instances if min_instances is None else min_instances
        if not 0 < minimum <= target_instances:
            raise InvalidConfig(f"min_instances={minimum} must be 1..target_instances={target_instances}")

    def submit_training(self, request: TrainingRequest) -> JobRef:
        folder = run_folder(request.model_version)
        pool = request.compute_pool
        self.check_pool(pool, request.target_instances, request.min_instances)
        minimum = request.min_instances if request.min_instances is not None else request.target_instances
        from snowflake.ml.jobs import remote

        artifact_dir = f"{self.names.dag_stage}/run_artifacts/{folder}"
        # The pool's CREATE/GRANT helps only when the pool is missing or not granted, not with any failure here.
        with vendor_errors(
            f"submitting training job {request.model_version} on {pool}",
            privilege_fix=pool_fix(self.names, pool),
        ):
            definition = remote(
                pool,
                stage_name=f"{self.names.schema_fqn}.{self.names.job_stage_name}/{folder}",
                target_instances=request.target_instances,
                min_instances=minimum,
                session=self._session,
                database=self.names.database,
                schema=self.names.schema,
                query_warehouse=self.names.warehouse,
                imports=[domain, adapters],
                name=JOB_NAME,
                # A retried run resubmits into its folder: the entrypoint must be this deployment's, not the last.
                overwrite=True,
            )(train_in_job)
            job = definition(request.to_dict(), self.names.schema_fqn, artifact_dir)
        return JobRef(job.id)

    def _job(self, job: JobRef) -> Any:
        from snowflake.ml.jobs import get_job

        with vendor_errors(f"job {job.id}"):
            return get_job(job.id, session=self._session)

    def status(self, job: JobRef) -> JobStatus:
        with vendor_errors(f"job {job.id}"):
            return job_status(job, self._job(job).status)

    def wait(self, job: JobRef, timeout: float | None = None) -> JobStatus:
        with vendor_errors(f"job {job.id}"):
            return job_status(job, self._job(job).wait(timeout=-1 if timeout is None else timeout))

    def result(self, job: JobRef, timeout: float | None = None) -> TrainingOutcome:
        handle = self._job(job)
        with vendor_errors(f"job {job.id}"):
            status = job_status(job, handle.wait(timeout=-1 if timeout is None else timeout))
        if status is not JobStatus.DONE:
            tail = self.logs(job)[-2000:]
            raise JobFailed(f"job {job.id} ended {status.value}; last log lines:\n{tail}")
        with vendor_errors(f"result of job {job.id}"):
            return TrainingOutcome.from_json(str(handle.result()))

    def logs(self, job: JobRef, instance: int = 0) -> str:
        with vendor_errors(f"logs of job {job.id} instance {instance}"):
            return str(self._job(job).get_logs(instance_id=instance))

    def delete_jobs(self, finished_before: datetime) -> list[str]:
        """Each training job of this schema that ``list_jobs`` reports finished before ``finished_before`` (its
        ``completed_time``: snowflake/ml/jobs/manager.py ``_get_job_history_spcs`` / ``_get_job_services``) goes:
        ``delete_job`` (DROP SERVICE, and REMOVE of its payload folder), then its run's model folder
        ``<dag stage>/run_artifacts/<folder>/``. A retried run trains again into its folder, so a folder a kept
        job uses stays (and so does its payload: only the service is dropped)."""
        from snowflake.ml.jobs import delete_job, get_job, list_jobs

        with vendor_errors(f"listing ML jobs in {self.names.schema_fqn}"):
            frame = list_jobs(
                limit=-1, database=self.names.database, schema=self.names.schema, session=self._session
            )
        cutoff = pd.Timestamp(finished_before)
        expired: list[str] = []
        kept: list[str] = []
        for row in frame.to_dict("records"):
            if not str(row["name"]).startswith("TRAIN_MODEL"):
                continue
            completed = row.get("completed_time")
            when = None if completed is None or pd.isna(completed) else pd.Timestamp(completed)
            ended = when is not None and (when if when.tzinfo else when.tz_localize("UTC")) < cutoff
            (expired if ended else kept).append(f"{row['database_name']}.{row['schema_name']}.{row['name']}")
        if not expired:
            return []
        with vendor_errors("reading the ML jobs' stage folders"):
            handles = {job_id: get_job(job_id, session=self._session) for job_id in [*expired, *kept]}
        in_use = {self._run_folder(handles[job_id]) for job_id in kept}
        for job_id in expired:
            folder = self._run_folder(handles[job_id])
            with vendor_errors(f"deleting job {job_id}"):
                if folder is not None and folder in in_use:
                    # delete_job's own statement, without its REMOVE of the payload the kept job shares
                    self._session.sql("DROP SERVICE IDENTIFIER(?)", params=[job_id]).collect()
                    continue
                delete_job(handles[job_id], session=self._session)
            if folder is not None:
                self._remove(f"{self.names.dag_stage}/run_artifacts/{folder}/", f"job {job_id}")
        return expired

    def _run_folder(self, job: Any) -> str | None:
        """The run folder a job was submitted into (``submit_training``): its payload is
        ``<job stage>/<folder>/train_model`` (snowflake/ml/jobs/job_definition.py ``build_object_stage_path``),
        which the job's spec holds as its stage volume (``MLJob._stage_path``, what ``delete_job`` removes).
        None for a job laid out otherwise: nothing of the DAG stage is touched for it."""
        stage_path = str(job._stage_path or "")
        prefix = f"{self.names.job_stage}/".lower()
        folder, _, leaf = stage_path[len(prefix) :].partition("/")
        if stage_path.lower().startswith(prefix) and _RUN_FOLDER.match(folder) and leaf == JOB_NAME:
            return folder
        log.warning(
            "job %s: stage path %r is not a run folder of %s", job.id, stage_path, self.names.job_stage
        )
        return None

    def _remove(self, location: str, owner: str) -> None:
        """REMOVE a stage folder; one that cannot be removed is a warning, never a failed cleanup (as
        ``delete_job`` treats its own REMOVE, snowflake/ml/jobs/manager.py)."""
        try:
            self._session.sql(f"REMOVE {location}").collect()
        except Exception as exc:  # the vendor's errors are many; none of them may fail the cleanup
            log.warning("could not remove %s of %s: %s", location, owner, exc)

    def cancel(self, job: JobRef) -> None:
        handle = self._job(job)
        with vendor_errors(f"job {job.id}"):
            if not job_status(job, handle.status).is_terminal:
                handle.cancel()
