"""Task bodies of the graph deployed to Snowflake.

They are module-level functions so that the stored procedures reference them by name (the project's packages
travel with the DAG's imports); each builds the real adapters from the procedure's own session, then calls
the same ``app.tasks.run_stage`` the simulator runs.

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
from app.tasks import run_stage
from domain import pipeline as p
from domain.config import DEPLOYMENT_PREFIX
from domain.graph import TaskKind, TaskSpec
from domain.names import DEFAULT_NAMES, ObjectNames


def _ports(session: Any, config: dict[str, Any]) -> p.Ports:
    from adapters.snowflake.feature_store import SnowflakeFeatureStore
    from adapters.snowflake.jobs import SnowflakeJobRunner
    from adapters.snowflake.notifier import SnowflakeNotifier
    from adapters.snowflake.registry import SnowflakeModelRegistry
    from adapters.snowflake.session import SnowflakeNames

    # Where the graph was deployed (written by the deploying process), else the procedure's own session.
    deployed = {
        k.removeprefix(DEPLOYMENT_PREFIX): v for k, v in config.items() if k.startswith(DEPLOYMENT_PREFIX)
    }
    defaults = DEFAULT_NAMES
    names = ObjectNames(
        role=deployed.get("role", defaults.role),
        # The session reports SQL text ('"My Db"' or 'SNOWBANK'); SnowflakeNames keeps names in that form.
        database=deployed.get("database") or session.get_current_database() or defaults.database,
        schema=deployed.get("schema") or session.get_current_schema() or defaults.schema,
        data_schema=deployed.get("data_schema", defaults.data_schema),
        warehouse=deployed.get("warehouse") or session.get_current_warehouse() or defaults.warehouse,
        compute_pool=str(config.get("compute_pool", defaults.compute_pool)),
        notification_integration=str(
            config.get("notification_integration", defaults.notification_integration)
        ),
    )
    sf_names = SnowflakeNames.of(names)
    return p.Ports(
        SnowflakeFeatureStore(session, sf_names),
        SnowflakeJobRunner(session, sf_names),
        SnowflakeModelRegistry(session, sf_names),
        SnowflakeNotifier(session, sf_names),
    )


def _run(stage: str, session: Session) -> str | None:
    runtime = SnowflakeTaskRuntime(session)
    return run_stage(stage, runtime, _ports(session, runtime.graph_config()))


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


_BY_STAGE = {
    f.__name__: f
    for f in (prepare_data, train_model, check_model_quality, promote_model, send_alert, cleanup)
}


def definition_for(spec: TaskSpec) -> Any:
    """What a deployed task runs: SQL text as written, or the stage's module-level function."""
    if spec.kind is TaskKind.SQL:
        return spec.definition
    try:
        return _BY_STAGE[spec.definition]
    except KeyError:
        raise KeyError(
            f"no deployable task body for stage {spec.definition!r}; known: {sorted(_BY_STAGE)}"
        ) from None
