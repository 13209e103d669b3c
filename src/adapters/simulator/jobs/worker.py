"""One instance of a simulated ML Job: ``python -m adapters.simulator.jobs.worker <job dir> <instance>``.

The supervisor (``jobs.py``) starts one such process per instance, its stdout and stderr going to the
instance's log. The job's ``spec.json`` says what to run. A training job trains on every instance through
XGBoost's collective; a function job runs the cloudpickled function, received on stdin, once on the
head (instance 0), as ``@remote`` does in head/worker mode. The head writes ``result.json``; a failing
instance writes ``error-<i>.json``; every instance records its peak memory in ``stats-<i>.json``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"
SPEC_FILE = "spec.json"


# OpenMP's thread count (XGBoost's default nthread, and its predict/DMatrix threads), set for every instance.
def error_file(instance: int) -> str:
    return f"error-{instance}.json"


def stats_file(instance: int) -> str:
    return f"stats-{instance}.json"


# The exit code of an instance that failed and could not even record why: the disk is full (errno ENOSPC).
NO_SPACE_EXIT = errno.ENOSPC


def write_json(path: Path, value: Any) -> None:
    """Write atomically, so the supervisor never reads half a file; a failed write leaves no partial file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        partial.write_text(json.dumps(value, default=_jsonable))
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays are common return values; anything else is not JSON and fails the job.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(
        f"the job's return value holds a {type(value).__name__}, which is not JSON-serialisable; "
        f"return dicts, lists, strings, numbers, booleans or None"
    )


def _exit_with_parent(interval: float = 0.5) -> None:
    """Workers run in their own session; if the submitting process dies (even by SIGKILL), stop too."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _run(spec: dict[str, Any], instance: int) -> Any:
    if spec["kind"] == "training":
        from adapters.simulator.jobs.training import run_training
        from domain.refs import TrainingRequest

        outcome = run_training(
            TrainingRequest.from_dict(spec["request"]),
            Path(spec["files_root"]),
            rank=instance,
            world_size=spec["target_instances"],
            communicator=spec.get("communicator"),
        )
        return None if outcome is None else json.loads(outcome.to_json())
    if instance != 0:
        print(f"instance {instance} is a worker; the function runs on the head (instance 0)")
        return None
    import cloudpickle

    # The function was pickled by the submitting process moments ago and comes through a pipe: it is code
    # being shipped, never data read back from storage — as snowflake.ml.jobs ships a @remote function
    # (snowflake/ml/jobs/_utils/payload_utils.py pickles it with cloudpickle; mljob_launcher.py loads it).
    func, args, kwargs = cloudpickle.loads(sys.stdin.buffer.read())
    if spec.get("session") is None:
        return func(*args, **kwargs)
    session = _active_session(spec["session"])
    try:
        return func(*((session,) if spec.get("session_argument") else ()), *args, **kwargs)
    finally:
        session.close()


def _active_session(options: dict[str, Any]) -> Any:
    """A Snowpark session on the account's SQL server, logged in with the task's key, made the process's active
    one (snowflake/snowpark/session.py ``_add_session``, which ``Session.builder.create()`` calls), so
    ``get_active_session()`` in the job function returns it."""
    import snowflake.snowpark.session as snowpark_session
    from snowflake.snowpark._internal.server_connection import ServerConnection

    session = snowpark_session.Session(ServerConnection(options), options)
    snowpark_session._add_session(session)
    return session


def main(argv: list[str]) -> int:
    job_dir, instance = Path(argv[1]), int(argv[2])
    _exit_with_parent()
    spec = json.loads((job_dir / SPEC_FILE).read_text())
    print(f"ML job started: {spec['name']} instance {instance} of {spec['target_instances']}", flush=True)
    code = 0
    try:
        value = _run(spec, instance)
        if instance == 0:
            write_json(job_dir / RESULT_FILE, {"value": value})
    except BaseException as exc:
        with contextlib.suppress(OSError):  # the log may be on the full disk too
            traceback.print_exc()
        try:
            write_json(job_dir / error_file(instance), {"error": f"{type(exc).__name__}: {exc}"})
        except OSError as unwritten:
            if unwritten.errno == errno.ENOSPC:
                return NO_SPACE_EXIT  # the exit code is all that can still reach the supervisor
            raise
        code = 1
    finally:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with contextlib.suppress(OSError):  # statistics only: never the reason a job fails
            write_json(job_dir / stats_file(instance), {"max_rss_kib": peak_kib})
            print(f"ML job finished: instance {instance}, peak memory {peak_kib / 1024:.1f} MiB", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
