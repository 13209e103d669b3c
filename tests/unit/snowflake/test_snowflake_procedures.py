"""Deployed task bodies run as Snowflake runs them: imported only from the deploy's zips, in a fresh interpreter.

The graph is deployed through the offline harness (Snowpark's real ``sproc.register`` under snowflake.core's
dagv1); every task's procedure is read back from its definition (the inline handler Snowpark generated and the
``IMPORTS`` it names) and run on the very zips the deploy uploaded, each call in a ``python -I -S``
subprocess of its own whose path is those zips, the standard library and the installed packages. A
``__file__``-relative path, a module missing from the zips or an import of the source tree fails here, not on
the first scheduled run.
"""

from __future__ import annotations

import json
import re
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.snowflake.scheduler import SnowflakeScheduler, deploy_imports
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.task_runtime import ORIGINAL_SCHEDULE_UTC_SQL
from app.snowflake_tasks import definition_for
from domain import pipeline as p
from domain.config import PipelineConfig
from domain.graph import GraphSpec
from domain.refs import DatasetRef, DatasetSplits, ModelArtifact, TrainingOutcome
from tests.snowflake_offline.harness import offline_snowflake
from tests.sproc_emulation import (
    Invocation,
    ProcedureReport,
    TaskRunContext,
    deployed_procedure,
    run_in_procedure,
    snowpark_zips,
)
from tests.sproc_emulation.runner import ML_JOB_SUBMISSION_ANSWERS, site_packages

GRAPH = "MORTGAGE_PIPELINE"
DEPLOYMENT = {"database": "SNOWBANK", "schema": "ML"}
PROJECT_SRC = Path(__file__).resolve().parents[3] / "src"
RUN_ID = "v20260210_092849"  # TaskRunContext's default scheduled time, as the model version names it
SUBMITTING = "train_model, answered through job submission"
RUN = TaskRunContext({}, p.CLEANUP).as_request()  # the run every invocation belongs to (root UUID, run group)

# The first statement each body sends past its task context: the first backend call it depends on.
FIRST_BACKEND_CALL = {
    # the feature store reads the source table's version (adapters/snowflake/feature_store.py)
    p.PREPARE_DATA: r"^select LAST_ALTERED from SNOWBANK\.INFORMATION_SCHEMA\.TABLES\b",
    # the job runner checks the pool before submitting (adapters/snowflake/jobs.py)
    p.TRAIN_MODEL: r"^SHOW COMPUTE POOLS LIKE 'DEMO_POOL'$",
    # snowflake.ml's Registry looks its database up first
    p.CHECK_MODEL_QUALITY: r"^SHOW DATABASES LIKE 'SNOWBANK'",
    p.PROMOTE_MODEL: r"^SHOW DATABASES LIKE 'SNOWBANK'",
    p.SEND_ALERT: r"^SHOW DATABASES LIKE 'SNOWBANK'",
    # the finalizer first reads this run's state of the first task from TASK_HISTORY, filtered to its graph
    # run group (adapters/snowflake/task_runtime.py SnowflakeTaskRuntime.task_state)
    p.CLEANUP: (
        r"^select NAME, STATE, RUN_ID, ATTEMPT_NUMBER, QUERY_START_TIME "
        rf"from table\(SNOWBANK\.INFORMATION_SCHEMA\.TASK_HISTORY\(ROOT_TASK_ID => '{RUN['root_uuid']}'.*\)\) "
        rf"where to_char\(GRAPH_RUN_GROUP_ID\) = '{RUN['run_group_id']}' and NAME = '{GRAPH}\$PREPARE_DATA'$"
    ),
}


def _ref(version: str) -> DatasetRef:
    return DatasetRef(
        "mortgage_dataset", version, label_cols=("MORTGAGERESPONSE",), exclude_cols=("TIMESTAMP", "LOAN_ID")
    )


PREDECESSOR_VALUES = {
    p.PREPARE_DATA: DatasetSplits(_ref("v1"), _ref("v1_train"), _ref("v1_test")).to_json(),
    p.TRAIN_MODEL: TrainingOutcome(
        ModelArtifact(f"@SNOWBANK.ML.DAG_STAGE/run_artifacts/{RUN_ID}/model.ubj"),
        {"test_accuracy": 0.9, "test_roc_auc": 0.9},
        ("INCOME",),
    ).to_json(),
}


def _context(config: Mapping[str, Any], task: str) -> TaskRunContext:
    return TaskRunContext(config, task, predecessor_values=PREDECESSOR_VALUES)


def _assert_reached_its_first_backend_call(stage: str, report: ProcedureReport) -> None:
    assert report.outcome == "reached_backend", report.error
    assert re.search(FIRST_BACKEND_CALL[stage], report.first_unanswered or "", re.IGNORECASE), report.texts


Procedure = tuple[dict[str, bytes], str, str]  # (zips, handler module text, handler name)


def _graph() -> GraphSpec:
    return p.pipeline_graph(PipelineConfig(), name=GRAPH, warehouse="DEMO_WH", deployment=DEPLOYMENT)


@pytest.fixture(scope="module")
def deployed() -> dict[str, Procedure]:
    """Stage -> its procedure as the deploy created it: the zips it uploaded and the handler it inlined."""
    with offline_snowflake() as sf:
        SnowflakeScheduler(sf.session, SnowflakeNames(**DEPLOYMENT), definition_for).deploy(_graph())
        return {
            name.removeprefix(f"{GRAPH}$").lower(): deployed_procedure(definition, sf.uploads)
            for name, definition in sf.task_definitions().items()
            if name.startswith(f"{GRAPH}$")
        }


@pytest.fixture(scope="module")
def deploy_zips(deployed: dict[str, Procedure]) -> dict[str, bytes]:
    zips, _, _ = deployed[p.PREPARE_DATA]
    return zips


@pytest.fixture(scope="module")
def reports(deployed: dict[str, Procedure], deploy_zips: dict[str, bytes]) -> dict[str, ProcedureReport]:
    graph_config = _graph().config
    invocations = {
        stage: Invocation(source, _context(graph_config, stage), handler=handler)
        for stage, (_, source, handler) in deployed.items()
    }
    _, source, handler = deployed[p.TRAIN_MODEL]
    invocations[SUBMITTING] = Invocation(
        source, _context(graph_config, p.TRAIN_MODEL), handler=handler, answers=ML_JOB_SUBMISSION_ANSWERS
    )
    # every task imports the same uploads (test_every_task_of_the_deploy_imports_the_same_three_uploaded_zips)
    done = run_in_procedure(deploy_zips, list(invocations.values()))
    return dict(zip(invocations, done, strict=True))


def test_every_task_of_the_deploy_imports_the_same_three_uploaded_zips(
    deployed: dict[str, Procedure],
) -> None:
    assert sorted(deployed) == sorted(p.STAGES)
    zips = {stage: zipped for stage, (zipped, _, _) in deployed.items()}
    assert sorted(zips[p.PREPARE_DATA]) == ["adapters.zip", "app.zip", "domain.zip"]
    assert all(z == zips[p.PREPARE_DATA] for z in zips.values())


def test_snowparks_own_zip_builder_makes_the_zips_the_deploy_uploaded(deploy_zips: dict[str, bytes]) -> None:
    """``snowpark_zips`` (for tests that need no deploy) is byte for byte what ``sproc.register`` uploads."""
    assert snowpark_zips(deploy_imports()) == deploy_zips


@pytest.mark.parametrize("stage", p.STAGES)
def test_every_task_body_reaches_its_first_backend_call(
    reports: dict[str, ProcedureReport], stage: str
) -> None:
    _assert_reached_its_first_backend_call(stage, reports[stage])


def test_the_finalizer_reads_the_runs_utc_schedule_and_task_states_from_task_history(
    reports: dict[str, ProcedureReport],
) -> None:
    """SYSTEM$TASK_COMPLETION_STATE is documented for WHEN clauses of successors, not for a finalizer's body."""
    texts = reports[p.CLEANUP].texts
    assert ORIGINAL_SCHEDULE_UTC_SQL in texts
    assert not [t for t in texts if "TASK_COMPLETION_STATE" in t.upper()], texts


@pytest.mark.parametrize("stage", p.STAGES)
def test_every_task_body_imports_the_project_from_the_deploy_zips(
    reports: dict[str, ProcedureReport], stage: str
) -> None:
    files = reports[stage].module_files
    assert {name: Path(entry["zip"] or "").name for name, entry in files.items()} == {
        "domain": "domain.zip",
        "adapters": "adapters.zip",
        "app": "app.zip",
    }, files


def test_the_procedures_path_is_the_zips_the_standard_library_and_the_installed_packages(
    reports: dict[str, ProcedureReport],
) -> None:
    report = reports[p.PREPARE_DATA]
    stdlib = Path(sysconfig.get_paths()["stdlib"]).parent
    allowed = set(site_packages())
    for entry in report.sys_path:
        assert (
            entry.startswith(report.zip_dir + "/") or Path(entry).is_relative_to(stdlib) or entry in allowed
        ), entry
        assert not Path(entry).is_relative_to(PROJECT_SRC), entry
    # the editable install's path entry or finder never loaded (site and .pth files are off)
    assert not any("editable" in finder.lower() for finder in report.meta_path), report.meta_path


def _uploads_under(report: ProcedureReport, folder: str) -> dict[str, dict[str, Any]]:
    return {u["target"].removeprefix(folder): u for u in report.uploads if u["target"].startswith(folder)}


def test_a_training_job_submitted_from_a_procedure_ships_domain_and_adapters_from_its_zips(
    reports: dict[str, ProcedureReport],
) -> None:
    """Issue 9, defect 2: jobs.py gave snowflake.ml folders under ``Path(__file__)``, inside adapters.zip."""
    report = reports[SUBMITTING]
    assert report.outcome == "reached_backend", report.error
    # submitted, and now following the job (MLJob reads its service): the submission itself went through
    assert report.first_unanswered == "DESCRIBE SERVICE IDENTIFIER(?)"
    app = _uploads_under(report, f"@SNOWBANK.ML.JOB_STAGE/{RUN_ID}/train_model/app/")
    assert Path(app["domain.zip"]["source"]).parent == Path(report.zip_dir)
    assert Path(app["adapters.zip"]["source"]).parent == Path(report.zip_dir)
    assert "domain/refs.py" in app["domain.zip"]["zip_members"]
    assert "adapters/snowflake/training_payload.py" in app["adapters.zip"]["zip_members"]
    assert "func.py" in app  # the entrypoint snowflake.ml generated for train_in_job


def test_a_training_job_is_created_with_the_runs_stage_folder_pool_warehouse_and_instances(
    reports: dict[str, ProcedureReport],
) -> None:
    binds = [s for s in reports[SUBMITTING].statements if s["kind"] == "bind"]
    assert [b["text"] for b in binds] == ["CALL SYSTEM$EXECUTE_ML_JOB(%s, %s, %s, %s)"]
    name, pool, spec, options = binds[0]["params"]
    assert (name, pool) == ("SNOWBANK.ML.train_model_", "DEMO_POOL")  # the server appends a unique suffix
    assert json.loads(spec)["STAGE_PATH"] == f"@SNOWBANK.ML.JOB_STAGE/{RUN_ID}/train_model"
    job = json.loads(options)
    assert (job["QUERY_WAREHOUSE"], job["TARGET_INSTANCES"], job["MIN_INSTANCES"]) == ("DEMO_WH", 2, 2)


# Python procedures cannot run PUT or GET as SQL, and owner's-rights procedures cannot create named temporary
# objects (Snowflake docs, "Python stored procedure limitations"); file uploads must go through session.file.
REFUSED_IN_PROCEDURES = re.compile(
    r"^\s*(PUT|GET)\b|\bCREATE\s+(OR\s+REPLACE\s+)?(LOCAL\s+|GLOBAL\s+)?(TEMP|TEMPORARY|VOLATILE)\b",
    re.IGNORECASE,
)


def test_a_job_submission_from_a_procedure_sends_nothing_procedures_refuse(
    reports: dict[str, ProcedureReport],
) -> None:
    texts = reports[SUBMITTING].texts
    assert any(t.startswith("CALL SYSTEM$EXECUTE_ML_JOB") for t in texts)
    assert [t for t in texts if REFUSED_IN_PROCEDURES.search(t)] == []


def test_the_jobs_entrypoint_loads_train_in_job_from_the_zips_the_procedure_shipped(
    reports: dict[str, ProcedureReport],
) -> None:
    """The job side of defect 2: in the container, snowflake.ml's launcher puts every zip of the payload on
    sys.path and runs the generated func.py (snowflake/ml/jobs/_utils/scripts/mljob_launcher.py). Loaded
    here as a module (not ``__main__``), func.py only unpickles the function, which imports what it uses."""
    submitted = reports[SUBMITTING]
    app = f"@SNOWBANK.ML.JOB_STAGE/{RUN_ID}/train_model/app"
    zips = {name: submitted.uploaded(f"{app}/{name}") for name in ("domain.zip", "adapters.zip")}
    probe = submitted.uploaded(f"{app}/func.py").decode() + (
        "\n\ndef compute(session):\n    return [func.__module__, func.__name__]\n"
    )
    (report,) = run_in_procedure(zips, [Invocation(probe, _context({}, p.TRAIN_MODEL))])
    assert report.outcome == "returned", report.error
    assert report.result == ["adapters.snowflake.training_payload", "train_in_job"]
    assert report.module_files["domain"]["zip"] and report.module_files["adapters"]["zip"]
    assert report.module_files["app"]["file"] is None  # the job needs no app package


def test_each_invocation_runs_in_an_interpreter_of_its_own(deploy_zips: dict[str, bytes]) -> None:
    """As each procedure call in Snowflake: what one body imported is not there for the next."""
    first = "def compute(session):\n    import domain.pipeline\n    return domain.pipeline.__name__\n"
    second = (
        "def compute(session):\n    import sys\n"
        "    return sorted(m for m in sys.modules if m.partition('.')[0] in ('domain', 'adapters', 'app'))\n"
    )
    context = _context({}, p.PREPARE_DATA)
    imported, after = run_in_procedure(deploy_zips, [Invocation(first, context), Invocation(second, context)])
    assert (imported.outcome, imported.result) == ("returned", "domain.pipeline"), imported.error
    assert (after.outcome, after.result) == ("returned", []), after.error


def test_the_emulation_refuses_what_a_procedure_cannot_do() -> None:
    """A body that starts a process, or reaches the project's source tree, fails in the emulation."""
    spawn = "def compute(session):\n    import subprocess\n    subprocess.run(['true'])\n"
    leak = (
        f"def compute(session):\n    import sys\n    sys.path.insert(0, {str(PROJECT_SRC)!r})\n"
        "    import domain\n    return domain.__file__\n"
    )
    context = _context({}, p.PREPARE_DATA)
    spawned, leaked = run_in_procedure({}, [Invocation(spawn, context), Invocation(leak, context)])
    assert spawned.outcome == "raised" and "Creating processes is not supported" in (spawned.error or "")
    assert leaked.outcome == "raised" and "imported from outside the procedure's zips" in (leaked.error or "")
