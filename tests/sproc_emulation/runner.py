"""The parent side of the stored-procedure emulation: the zips a deploy uploads, the handler, a subprocess
per call.

What a deployed Python task is, per the libraries:

- dagv1 wraps the task function (snowflake/core/task/dagv1.py ``DAGTask._to_low_level_task`` with
  ``_use_func_return_value``) and snowflake.core registers the wrapper with ``session.sproc.register``
  (snowflake/core/task/_task.py ``_register_task_definition_stored_procedure``).
- Snowpark turns the function into an inline handler module (snowflake/snowpark/_internal/udf_utils.py
  ``generate_python_code``: ``func = pickle.loads(...)`` and ``def compute(session): return func(session)``).
- Each ``(directory, import path)`` import is zipped by ``zip_file_or_directory_to_stream`` (snowflake/snowpark/
  _internal/utils.py) from the leading path ``Session._resolve_import_path`` computes, and uploaded as
  ``<basename>.zip`` (snowflake/snowpark/session.py ``Session._resolve_imports``). Inside the procedure those
  zips are on ``sys.path``; the project's source tree does not exist there.

``run_in_procedure`` takes the zips as a mapping of file name to bytes, so the zips built here
(``snowpark_zips``) and the zips a deploy harness captured from a real ``sproc.register``
(``deployed_procedure``, from the task definition and the uploads) are interchangeable.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_PACKAGES = ("domain", "adapters", "app")
_CHILD = Path(__file__).with_name("procedure.py")
_ROOT_TASK = "SNOWBANK.ML.MORTGAGE_PIPELINE"
Import = str | tuple[str, str]
Answers = Sequence[tuple[str, Sequence[Mapping[str, Any]]]]

# What an account answers snowflake.ml.jobs while it submits a job, shaped as Snowflake returns it: SHOW COMPUTE
# POOLS columns (docs: SHOW COMPUTE POOLS; the library reads "max_nodes", snowflake/ml/jobs/job_definition.py
# MLJobDefinition._register); SYSTEM$GET_ML_JOB_RUNTIME returns an image URL with a tag
# (snowflake/ml/jobs/_utils/runtime_env_utils.py get_runtime_image); SYSTEM$EXECUTE_ML_JOB returns the job id
# in its first column (job_definition.py MLJobDefinition.__call__).
ML_JOB_SUBMISSION_ANSWERS: Answers = (
    (
        r"^SHOW COMPUTE POOLS LIKE",
        (
            {
                "name": "DEMO_POOL",
                "state": "IDLE",
                "min_nodes": 1,
                "max_nodes": 2,
                "instance_family": "CPU_X64_S",
            },
        ),
    ),
    (r"^describe stage identifier\(\?\)$", ({"parent_property": "STAGE_LOCATION", "property": "URL"},)),
    (r"SYSTEM\$GET_ML_JOB_RUNTIME", ({"VALUE": "/snowflake/images/snowflake_images/runtime:1.7.1"},)),
    (r"SYSTEM\$EXECUTE_ML_JOB", ({"VALUE": "SNOWBANK.ML.TRAIN_MODEL_0A1B2C3D"},)),
)


def snowpark_zips(imports: Iterable[Import]) -> dict[str, bytes]:
    """The import zips exactly as Snowpark builds them for ``sproc.register(imports=...)``: name -> bytes."""
    from snowflake.snowpark import Session
    from snowflake.snowpark._internal.utils import zip_file_or_directory_to_stream

    zips: dict[str, bytes] = {}
    for item in imports:
        path, import_path = (item, None) if isinstance(item, str) else item
        abs_path, _checksum, leading_path = Session._resolve_import_path(path, import_path)
        name = f"{Path(abs_path).name}.zip"  # Session._resolve_imports: directories and .py files
        with zip_file_or_directory_to_stream(abs_path, leading_path) as stream:
            zips[name] = stream.getvalue()
    return zips


_IMPORTS = re.compile(r"^IMPORTS=\((?P<list>[^)]*)\)$", re.MULTILINE)
_HANDLER = re.compile(r"^HANDLER='(?P<handler>[^']+)'$", re.MULTILINE)
_INLINE = re.compile(r"^AS \$\$\n(?P<code>.*?)\n\$\$$", re.MULTILINE | re.DOTALL)


def deployed_procedure(definition: str, uploads: Mapping[str, bytes]) -> tuple[dict[str, bytes], str, str]:
    """``(zips, handler module text, handler name)`` of a task's anonymous procedure as a deploy created it.

    ``definition`` is the task's SQL, ``WITH … AS PROCEDURE … IMPORTS=(…) HANDLER='…' [AS $$ code $$] CALL …``
    (snowflake/snowpark/_internal/udf_utils.py ``generate_anonymous_python_sp_sql``); ``uploads`` maps stage
    paths to the bytes PUT there (a deploy harness's capture). Without inline code the handler is
    ``module.function`` in one of the imports (Snowpark uploads large handlers as a file).
    """
    imports = _IMPORTS.search(definition)
    handler = _HANDLER.search(definition)
    if imports is None or handler is None:
        raise ValueError(f"not a Python stored-procedure definition: {definition[:200]!r}")
    paths = re.findall(r"'([^']+)'", imports.group("list"))
    missing = [path for path in paths if path not in uploads]
    if missing:
        raise ValueError(f"the procedure imports {missing}, which the deploy did not upload")
    zips = {path.rsplit("/", 1)[-1]: uploads[path] for path in paths}
    inline = _INLINE.search(definition)
    if inline is not None:
        return zips, inline.group("code"), handler.group("handler")
    module, _, function = handler.group("handler").rpartition(".")
    return zips, f"from {module} import {function}\n", function


@dataclass(frozen=True)
class TaskRunContext:
    """What the procedure's task context reports: its graph config, names, predecessors' return values."""

    graph_config: Mapping[str, Any]
    task: str
    scheduled_time: datetime = datetime(2026, 2, 10, 9, 28, 49, tzinfo=UTC)
    predecessor_values: Mapping[str, str] = field(default_factory=dict)  # short task name -> value
    root_task_name: str = _ROOT_TASK
    database: str = "SNOWBANK"
    schema: str = "ML"
    warehouse: str = "DEMO_WH"
    role: str = "DEMO_ROLE"

    def as_request(self) -> dict[str, Any]:
        root = self.root_task_name.rsplit(".", 1)[-1]
        return {
            "graph_config": dict(self.graph_config),
            # dagv1 names a graph's task "<root>$<task>" (dagv1.py DAGTask.full_name), as TaskContext parses it
            "task_name": f"{self.root_task_name}${self.task.upper()}",
            "root_task_name": self.root_task_name,
            "root_uuid": "00000000-0000-0000-0000-000000000001",
            "run_group_id": "1770715729000",
            "scheduled_time": self.scheduled_time.isoformat(),
            "predecessor_values": {f"{root}${k.upper()}": v for k, v in self.predecessor_values.items()},
            "database": self.database,
            "schema": self.schema,
            "warehouse": self.warehouse,
            "role": self.role,
        }


@dataclass(frozen=True)
class Invocation:
    """One call of a procedure handler: ``handler(session)`` from the module text ``source``.

    ``answers`` are ``(regex, rows)`` for statements beyond the task context; the first statement that matches
    nothing ends the body (``outcome == "reached_backend"``, ``first_unanswered``).
    """

    source: str
    context: TaskRunContext
    handler: str = "compute"
    answers: Answers = ()

    def as_request(self) -> dict[str, Any]:
        return {
            "handler_source": self.source,
            "handler_name": self.handler,
            "context": self.context.as_request(),
            "answers": [[pattern, [dict(r) for r in rows]] for pattern, rows in self.answers],
        }


@dataclass(frozen=True)
class ProcedureReport:
    """What happened in the procedure: outcome, every statement in order, uploads, where packages came from."""

    outcome: str  # "returned" | "reached_backend" | "raised"
    statements: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    module_files: dict[str, dict[str, Any]]
    sys_path: list[str]
    meta_path: list[str]
    zip_dir: str
    first_unanswered: str | None = None
    result: Any = None
    error: str | None = None
    return_values: list[str] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [s["text"] for s in self.statements]

    def uploaded(self, target: str) -> bytes:
        """The bytes the procedure uploaded to the stage path ``target``."""
        found = [u for u in self.uploads if u["target"] == target]
        if not found:
            raise KeyError(
                f"nothing was uploaded to {target}; uploads: {[u['target'] for u in self.uploads]}"
            )
        return base64.b64decode(found[-1]["data"])


def site_packages() -> list[str]:
    """Where the third-party packages are installed (the editable project's .pth there is not processed)."""
    paths = sysconfig.get_paths()
    return list(dict.fromkeys([paths["purelib"], paths["platlib"]]))


# Each invocation gets an interpreter of its own; two at a time, which on two cores roughly halves the wall
# time of a batch (most of a child's time is importing snowflake.ml and snowpark).
CONCURRENT_PROCEDURES = 2


def run_in_procedure(
    zips: Mapping[str, bytes], invocations: Sequence[Invocation], *, timeout: float = 180
) -> list[ProcedureReport]:
    """Run each invocation in a fresh interpreter of its own whose path is the zips + installed packages.

    ``python -I -S``: no site, no .pth files (the editable install's path hook never loads), no user site, no
    PYTHON* variables, no script folder on the path. One process per invocation, as each procedure call is
    a process of its own in Snowflake: an import that works only because another body ran first fails here.
    Reports come back in the order of ``invocations``.
    """
    with ThreadPoolExecutor(max_workers=CONCURRENT_PROCEDURES) as pool:
        return list(pool.map(lambda invocation: _run_one(zips, invocation, timeout), invocations))


def _run_one(zips: Mapping[str, bytes], invocation: Invocation, timeout: float) -> ProcedureReport:
    with tempfile.TemporaryDirectory(prefix="sproc-") as tmp:
        folder = Path(tmp)
        zip_dir = folder / "imports"
        zip_dir.mkdir()
        zip_paths = []
        for name, data in zips.items():
            (zip_dir / name).write_bytes(data)
            zip_paths.append(str(zip_dir / name))
        child = folder / _CHILD.name
        shutil.copyfile(_CHILD, child)
        request = {
            "zips": zip_paths,
            "import_directory": str(zip_dir),
            "site_packages": site_packages(),
            "packages": list(PROJECT_PACKAGES),
            "invocation": invocation.as_request(),
            "report_path": str(folder / "report.json"),
        }
        (folder / "request.json").write_text(json.dumps(request, default=str))
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(child), str(folder / "request.json")],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        report_file = folder / "report.json"
        if not report_file.is_file():
            raise AssertionError(
                f"the emulated procedure wrote no report (exit {done.returncode}):\n{done.stderr[-4000:]}"
            )
        r = json.loads(report_file.read_text())
    return ProcedureReport(
        outcome=r["outcome"],
        statements=r["statements"],
        uploads=r["uploads"],
        module_files=r["module_files"],
        sys_path=r["sys_path"],
        meta_path=r["meta_path"],
        zip_dir=str(zip_dir),
        first_unanswered=r.get("first_unanswered"),
        result=r.get("result"),
        error=r.get("error"),
        return_values=r.get("return_values", []),
    )
