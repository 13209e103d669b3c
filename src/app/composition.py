"""How every adapter of both backends is built: plain functions, the one place that constructs them.

``app.container`` wires these into providers for the CLI (choosing by ``backend``); the task bodies deployed
to Snowflake (``app.snowflake_tasks``) call ``snowflake_ports`` themselves, since a stored procedure has the
project's zips and the packages in ``DEPLOY_PACKAGES`` only — no dependency_injector. So this module imports
nothing outside the standard library, ``domain`` and ``app`` at load time; each factory imports its adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.tasks import definition_for, stage_task
from domain.config import DEPLOYMENT_PREFIX, RunConfig
from domain.errors import Unsupported
from domain.names import DEFAULT_NAMES, ObjectNames
from domain.pipeline import Ports, reconcile_crashed_run
from domain.schedule import Clock, utc_now


def unsupported(message: str) -> Any:
    """The provider of an operation a backend does not have: building it fails, naming why."""
    raise Unsupported(message)


# --- simulator -----------------------------------------------------------------------------------------------


def open_account(home: Path | None) -> Iterator[Any]:
    from adapters.simulator.account.home import LocalAccount, default_home

    account = LocalAccount(home or default_home())
    try:
        yield account
    finally:
        account.close()


def simulator_context(home: Path | None) -> str:
    """What the CLI's first line says the simulator backend works on."""
    from adapters.simulator.account.home import default_home

    return f"simulator backend, home {home or default_home()}"


def new_home(account: Any) -> Path | None:
    """The simulator home this process has just created (setup runs first), else None."""
    return account.home if account.is_new else None


def sim_feature_store(account: Any, names: ObjectNames) -> Any:
    from adapters.simulator.feature_store.store import SimFeatureStore

    return SimFeatureStore(account, database=names.database, schema=names.data_schema)


def sim_jobs(account: Any, names: ObjectNames) -> Any:
    from adapters.simulator.jobs.runner import SimJobRunner

    # No pools of its own: jobs run only on the pools the account holds (setup creates the configured one).
    return SimJobRunner(account, pools={}, database=names.database, schema=names.schema)


def sim_registry(account: Any) -> Any:
    from adapters.simulator.registry import SimModelRegistry

    return SimModelRegistry(account)


def sim_notifier(account: Any, history_days: int) -> Any:
    from adapters.simulator.notifications.notifier import SimNotifier

    # Sent messages are kept as long as the runs that sent them.
    return SimNotifier(account, retention=timedelta(days=history_days))


def dag_operation(
    account: Any, notifier: Any, jobs: Any, ports: Callable[[], Ports], history_days: int
) -> Any:
    from adapters.simulator import LocalDAGOperation

    def reconcile(run: Any) -> Mapping[str, str]:
        """A pipeline run whose process was killed: what it promoted, and its failure notice."""
        if "model_name" not in run.config:  # not a pipeline graph
            return {}
        config = RunConfig.from_graph(run.config, run.scheduled_time, graph_run_id=str(run.run_id))
        return reconcile_crashed_run(ports(), config)

    return LocalDAGOperation(
        account=account,
        notifier=notifier,
        job_runner=jobs,
        on_recovered=reconcile,
        history_retention=timedelta(days=history_days),
    )


def sim_scheduler(operation: Any, ports: Callable[[], Ports]) -> Any:
    from adapters.simulator.taskgraph.scheduler_port import SimScheduler
    from adapters.simulator.taskgraph.task_runtime import SimTaskRuntime

    # Tasks run in this process, so they share the container's adapters; an ML_JOB stage submits its job to
    # the simulator's JobRunner from inside the task, as Snowflake runs it synchronously.
    return SimScheduler(
        operation,
        definition_for(lambda stage: stage_task(stage, lambda _session: ports(), SimTaskRuntime)),
    )


def sim_doctor(settings: Settings, account: Callable[[], Any]) -> Any:
    from adapters.simulator.account.home import default_home
    from adapters.simulator.doctor import SimulatorDoctor

    n, p = settings.names, settings.pipeline
    return SimulatorDoctor(
        settings.home or default_home(),
        account,  # opened only when the home holds an account: doctor never creates one
        database=n.database,
        schema=n.schema,
        data_schema=n.data_schema,
        source_table=p.source_table,
        compute_pool=p.compute_pool,
        target_instances=p.target_instances,
        notification_integration=p.notification_integration,
    )


# --- snowflake -----------------------------------------------------------------------------------------------


def snowflake_names(names: ObjectNames) -> Any:
    from adapters.snowflake.session import SnowflakeNames

    return SnowflakeNames.of(names)


def open_snowflake_session(settings: Settings, names: Any) -> Iterator[Any]:
    from adapters.snowflake.session import open_session

    # The configured role and warehouse beat the connection entry's own; defaults only fill what it lacks.
    session = open_session(settings.connection, names, configured=settings.names.given)
    try:
        yield session
    finally:
        session.close()


def snowflake_ports(session: Any, names: Any, clock: Clock = utc_now) -> Ports:
    """The four Snowflake port adapters on ``session`` (the CLI's and every deployed task's)."""
    from adapters.snowflake.feature_store import SnowflakeFeatureStore
    from adapters.snowflake.jobs import SnowflakeJobRunner
    from adapters.snowflake.notifier import SnowflakeNotifier
    from adapters.snowflake.registry import SnowflakeModelRegistry

    return Ports(
        SnowflakeFeatureStore(session, names),
        SnowflakeJobRunner(session, names),
        SnowflakeModelRegistry(session, names),
        SnowflakeNotifier(session, names),
        clock,
    )


def deployed_names(session: Any, config: Mapping[str, Any]) -> ObjectNames:
    """Where a deployed graph's objects are: its config's ``deployment.`` entries (written by the deploying
    process), else what the procedure's own session has as current, else the defaults."""
    deployed = {
        k.removeprefix(DEPLOYMENT_PREFIX): v for k, v in config.items() if k.startswith(DEPLOYMENT_PREFIX)
    }
    d = DEFAULT_NAMES
    return ObjectNames(
        role=deployed.get("role", d.role),
        # The session reports SQL text ('"My Db"' or 'SNOWBANK'); SnowflakeNames keeps names in that form.
        database=deployed.get("database") or session.get_current_database() or d.database,
        schema=deployed.get("schema") or session.get_current_schema() or d.schema,
        data_schema=deployed.get("data_schema", d.data_schema),
        warehouse=deployed.get("warehouse") or session.get_current_warehouse() or d.warehouse,
        compute_pool=str(config.get("compute_pool", d.compute_pool)),
        notification_integration=str(config.get("notification_integration", d.notification_integration)),
    )


def sf_scheduler(session: Any, names: Any, definition_for: Callable[[Any], Any]) -> Any:
    """``definition_for``: what each deployed task runs (``app.snowflake_tasks.definition_for``, handed in by
    the container, since those task bodies build their ports with this module)."""
    from adapters.snowflake.scheduler import SnowflakeScheduler

    return SnowflakeScheduler(session, names, definition_for)


def snowflake_webhook(settings: Settings) -> Any:
    """``[webhook]`` as the Snowflake adapters take it (``notifier.WebhookSetup``), or None."""
    if settings.webhook is None:
        return None
    from adapters.snowflake.notifier import WebhookSetup

    hook = settings.webhook
    return WebhookSetup(hook.url, hook.secret, hook.BODY_TEMPLATE, hook.HEADERS)


def sf_doctor(settings: Settings, session: Callable[[], Any], names: Any) -> Any:
    from adapters.snowflake.doctor import SnowflakeDoctor

    # The session is opened by the doctor, so a connection that fails is reported as a check.
    return SnowflakeDoctor(
        session,
        names,
        target_instances=settings.pipeline.target_instances,
        connection=settings.connection,
        webhook=snowflake_webhook(settings),
    )


def deploy_plan(names: Any, definition_for: Callable[[Any], Any], session: Callable[[], Any] | None) -> Any:
    """What a deploy would create, on either backend; with a session (the snowflake backend), also its diff."""
    from adapters.snowflake.plan import DeployPlan

    return DeployPlan(names, definition_for, session)
