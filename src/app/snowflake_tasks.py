"""Task bodies of the graph deployed to Snowflake.

They are module-level functions so that the stored procedures reference them by name (the project's packages
travel with the DAG's imports); each builds the real adapters from the procedure's own session with the
CLI's own factories (``app.composition``), then calls the same ``app.tasks.run_stage`` the simulator runs.

Their signatures are what Snowpark's ``sproc.register`` accepts (snowflake.core's
``_register_task_definition_stored_procedure`` registers each one, through dagv1's ``functools.wraps``
wrapper): the first parameter annotated ``Session`` (snowflake/snowpark/_internal/udf_utils.py
``get_types_from_type_hints``) and the return ``typing.Optional[str]``, since
snowflake/snowpark/_internal/type_utils.py ``python_type_to_snow_type`` understands no ``str | None``. The
annotations are real objects (no ``from __future__ import annotations``) because Snowpark evaluates them
with ``typing.get_type_hints`` in this module's globals.
"""

from typing import Any, Optional

from snowflake.snowpark import Session

from adapters.snowflake.task_runtime import SnowflakeTaskRuntime
from app import tasks
from app.composition import deployed_names, snowflake_names, snowflake_ports
from domain import pipeline as p


def _ports(session: Any, config: dict[str, Any]) -> p.Ports:
    return snowflake_ports(session, snowflake_names(deployed_names(session, config)))


def _run(stage: str, session: Session) -> str | None:
    runtime = SnowflakeTaskRuntime(session)
    return tasks.run_stage(stage, runtime, _ports(session, runtime.graph_config()))


def prepare_data(session: Session) -> Optional[str]:  # noqa: UP045 - see the module docstring
    return _run(p.PREPARE_DATA, session)


def train_model(session: Session) -> Optional[str]:  # noqa: UP045 - see the module docstring
    return _run(p.TRAIN_MODEL, session)


def check_model_quality(session: Session) -> Optional[str]:  # noqa: UP045 - see the module docstring
    return _run(p.CHECK_MODEL_QUALITY, session)


def promote_model(session: Session) -> Optional[str]:  # noqa: UP045 - see the module docstring
    return _run(p.PROMOTE_MODEL, session)


def send_alert(session: Session) -> Optional[str]:  # noqa: UP045 - see the module docstring
    return _run(p.SEND_ALERT, session)


def cleanup(session: Session) -> Optional[str]:  # noqa: UP045 - see the module docstring
    return _run(p.CLEANUP, session)


# What a deployed task runs: SQL text as written, or the stage's module-level function.
definition_for = tasks.definition_for(
    {
        f.__name__: f
        for f in (prepare_data, train_model, check_model_quality, promote_model, send_alert, cleanup)
    }.__getitem__
)
