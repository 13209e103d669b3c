"""``runs``, ``runs show`` and ``logs`` on the Snowflake backend, offline: the CLI over a real Snowpark session on
the recording connection (tests/snowflake_offline), answering the graph-run views, TASK_HISTORY and the ML Job
statements snowflake.ml issues.

Rows are shaped from the documented views (CURRENT_TASK_GRAPHS / COMPLETE_TASK_GRAPHS / TASK_HISTORY: upper-case
columns, RUN_ID a number, ERROR_CODE / ERROR_MESSAGE of a failed task) and, for the job, from
snowflake/ml/jobs/job.py: ``get_job`` reads ``DESCRIBE SERVICE IDENTIFIER(?)`` (``_get_service_info``; its
``spec`` column is the service's YAML, whose one container is the log's container, ``MLJob._container_spec``),
and ``MLJob.get_logs(instance_id=N)`` runs ``SELECT SYSTEM$GET_SERVICE_LOGS(?, ?, ?)`` with
``[job id, N, container name]`` (``_get_logs``).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.cli import main
from tests.snowflake_offline.harness import OfflineSnowflake, offline_snowflake

G = "MORTGAGE_PIPELINE"
ROOT_ID = "01b2c3d4-root"
T0 = datetime(2026, 2, 10, 9, 28, 49)
JOB = "SNOWBANK.DEV.TRAIN_MODEL_0A1B2C3D"
GRAPH_COLUMNS = (
    ("ROOT_TASK_NAME", "TEXT"),
    ("DATABASE_NAME", "TEXT"),
    ("SCHEMA_NAME", "TEXT"),
    ("RUN_ID", "FIXED"),
    ("STATE", "TEXT"),
    ("SCHEDULED_TIME", "TIMESTAMP_LTZ"),
    ("QUERY_START_TIME", "TIMESTAMP_LTZ"),
    ("COMPLETED_TIME", "TIMESTAMP_LTZ"),
    ("ATTEMPT_NUMBER", "FIXED"),
    ("SCHEDULED_FROM", "TEXT"),
    ("ROOT_TASK_ID", "TEXT"),
    ("FIRST_ERROR_TASK_NAME", "TEXT"),
    ("FIRST_ERROR_MESSAGE", "TEXT"),
)
HISTORY_COLUMNS = (
    ("NAME", "TEXT"),
    ("STATE", "TEXT"),
    ("RUN_ID", "FIXED"),
    ("ROOT_TASK_ID", "TEXT"),
    ("ATTEMPT_NUMBER", "FIXED"),
    ("QUERY_START_TIME", "TIMESTAMP_LTZ"),
    ("COMPLETED_TIME", "TIMESTAMP_LTZ"),
    ("RETURN_VALUE", "TEXT"),
    ("ERROR_CODE", "FIXED"),
    ("ERROR_MESSAGE", "TEXT"),
)
TRAIN_ERROR = (
    'Traceback (most recent call last):\n  File "_udf_code.py", line 12\n'
    f"domain.errors.JobFailed: training job {JOB} failed: job {JOB} ended FAILED; last log lines:\nOOM"
)


def _run(run_id: int, state: str, error_task: str | None = None) -> tuple[Any, ...]:
    start = T0 + timedelta(minutes=run_id % 100)
    error = None if error_task is None else f"{G}${error_task}"
    return (G, "SNOWBANK", "DEV", run_id, state, start, start, start + timedelta(seconds=40), 1,
            "EXECUTE TASK", ROOT_ID, error, None if error is None else "it failed")  # fmt: skip


def _task(
    run_id: int, name: str, state: str, value: str | None = None, error: str | None = None
) -> tuple[Any, ...]:
    start = T0 + timedelta(minutes=run_id % 100)
    code = None if error is None else 100357
    return (f"{G}${name}", state, run_id, ROOT_ID, 1, start, start + timedelta(seconds=5), value, code, error)


class Account:
    """Two runs: 1001 succeeded, 1002 failed in train_model; each view applies the filters it is given."""

    def __init__(self, sf: OfflineSnowflake) -> None:
        self.runs = [_run(1001, "SUCCEEDED"), _run(1002, "FAILED", "TRAIN_MODEL")]
        self.history = [
            _task(1001, "PREPARE_DATA", "SUCCEEDED", json.dumps({"full": {"name": "D"}})),
            _task(1001, "TRAIN_MODEL", "SUCCEEDED", json.dumps({"job_id": JOB, "metrics": {}})),
            _task(1002, "PREPARE_DATA", "SUCCEEDED", "{}"),
            _task(1002, "TRAIN_MODEL", "FAILED", error=TRAIN_ERROR),
        ]
        sf.connection.answer(r"CURRENT_TASK_GRAPHS", [], GRAPH_COLUMNS)
        sf.connection.answer(r"COMPLETE_TASK_GRAPHS", self._graph_rows, GRAPH_COLUMNS)
        sf.connection.answer(r"TASK_HISTORY", self._history_rows, HISTORY_COLUMNS)
        spec = "spec:\n  containers:\n  - name: main\n    image: runtime:1.7.1\n"
        sf.connection.answer(
            r"^DESCRIBE SERVICE IDENTIFIER\(\?\)$",
            [(JOB.rsplit(".", 1)[-1], "DONE", "DEMO_POOL", spec, 2, 2)],
            [
                ("name", "TEXT"),
                ("status", "TEXT"),
                ("compute_pool", "TEXT"),
                ("spec", "TEXT"),
                ("target_instances", "FIXED"),
                ("min_instances", "FIXED"),
            ],
        )
        sf.connection.answer(
            r"SYSTEM\$GET_SERVICE_LOGS",
            lambda sql, params: [(f"log of {params[0]} instance {params[1]} container {params[2]}",)],  # type: ignore[index]
            [("SYSTEM$GET_SERVICE_LOGS", "TEXT")],
        )

    def _graph_rows(self, sql: str, params: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        bound = list(params or [])
        wanted = bound[2] if len(bound) > 2 else None  # ``… and RUN_ID = ?`` after database and schema
        return [r for r in self.runs if wanted is None or r[3] == int(wanted)]

    def _history_rows(self, sql: str, params: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        listed = re.search(r"RUN_ID in \(([\d, ]+)\)", sql)
        wanted = None if listed is None else {int(i) for i in listed.group(1).split(",")}
        return [h for h in self.history if wanted is None or h[2] in wanted]


@pytest.fixture
def sf(monkeypatch: pytest.MonkeyPatch) -> Iterator[OfflineSnowflake]:
    with offline_snowflake(database="SNOWBANK", schema="DEV") as offline:
        # composition.open_snowflake_session imports open_session when the session is first needed.
        monkeypatch.setattr("adapters.snowflake.session.open_session", lambda *a, **k: offline.session)
        yield offline


@pytest.fixture
def account(sf: OfflineSnowflake) -> Account:
    return Account(sf)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["-c", "offline", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_runs_lists_each_run_with_its_tasks_from_one_task_history_statement(
    sf: OfflineSnowflake, account: Account
) -> None:
    code, out, err = cli("runs", "--format", "json")

    assert code == 0, err
    listed = {r["run_id"]: [t["name"] for t in r["tasks"]] for r in json.loads(out)}
    assert listed == {"1002": ["prepare_data", "train_model"], "1001": ["prepare_data", "train_model"]}
    (history,) = sf.connection.executed(r"TASK_HISTORY")
    assert "RUN_ID in (1002, 1001)" in history.sql


def test_runs_show_reads_the_one_run_by_its_id_with_the_failed_tasks_error_code_and_message(
    sf: OfflineSnowflake, account: Account
) -> None:
    code, out, err = cli("runs", "show", "1002")

    assert code == 0, err
    assert out.startswith(f"graph run 1002 of {G}: FAILED")
    assert "  train_model: FAILED" in out and "    error (code 100357):" in out
    assert f"training job {JOB} failed" in out
    graph_reads = sf.connection.executed(r"TASK_GRAPHS")
    assert graph_reads and all(s.sql.endswith("and RUN_ID = ?") and s.params[-1] == 1002 for s in graph_reads)  # type: ignore[index]


def test_runs_show_of_a_run_id_that_is_no_run_exits_3(account: Account) -> None:
    code, _, err = cli("runs", "show", "999")

    assert code == 3 and "no graph run 999" in err


def test_logs_prints_the_failed_tasks_task_history_error(account: Account) -> None:
    code, out, err = cli("logs", "train_model", "--run", "1002")

    assert code == 0, err
    assert f"task {G}$TRAIN_MODEL: FAILED, attempt 1" in out
    assert "  error:" in out and "JobFailed: training job" in out


def test_logs_instance_reads_that_instances_log_through_mljob_get_logs(
    sf: OfflineSnowflake, account: Account
) -> None:
    code, out, err = cli("logs", "train_model", "--run", "1001", "--instance", "1")

    assert code == 0, err
    assert out == f"log of {JOB} instance 1 container main\n"
    (logs,) = sf.connection.executed(r"SYSTEM\$GET_SERVICE_LOGS")
    assert logs.params == (JOB, 1, "main")


def test_logs_instance_of_a_failed_training_task_finds_the_job_its_error_names(
    sf: OfflineSnowflake, account: Account
) -> None:
    code, out, err = cli("logs", "train_model", "--run", "1002", "--instance", "0")

    assert code == 0, err
    assert out == f"log of {JOB} instance 0 container main\n"
