"""The composition root: every port is chosen by the one ``backend`` setting (``providers.Selector``).

Only the chosen branch is ever built, so the simulator never opens a Snowflake session and the snowflake
backend never creates a local home. Adapters are imported inside their factories: importing this module is
cheap and has no side effects.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dependency_injector import containers, providers

from app.settings import Settings
from domain.graph import TaskKind, TaskSpec
from domain.pipeline import Ports


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- simulator -----------------------------------------------------------------------------------------------


def _account(settings: Settings) -> Iterator[Any]:
    from adapters.simulator.home import LocalAccount, default_home

    account = LocalAccount(settings.home or default_home())
    try:
        yield account
    finally:
        account.close()


def _sim_feature_store(account: Any, settings: Settings) -> Any:
    from adapters.simulator.feature_store import SimFeatureStore

    return SimFeatureStore(account, database=settings.names.database, schema=settings.names.data_schema)


def _sim_jobs(account: Any, settings: Settings) -> Any:
    from adapters.simulator.jobs import SimJobRunner

    # No pools of its own: jobs run only on the pools the account holds (setup creates the configured one).
    return SimJobRunner(account, pools={}, database=settings.names.database, schema=settings.names.schema)


def _sim_registry(account: Any) -> Any:
    from adapters.simulator.registry import SimModelRegistry

    return SimModelRegistry(account)


def _sim_notifier(account: Any) -> Any:
    from adapters.simulator.notifier import SimNotifier

    return SimNotifier(account)


def _dag_operation(account: Any, notifier: Any, jobs: Any) -> Any:
    from adapters.simulator import LocalDAGOperation

    return LocalDAGOperation(account=account, notifier=notifier, job_runner=jobs)


def _sim_scheduler(operation: Any, ports: providers.Provider[Ports]) -> Any:
    from adapters.simulator.taskgraph.scheduler_port import SimScheduler
    from adapters.task_context import TaskContextRuntime
    from app.tasks import stage_task

    def definition_for(spec: TaskSpec) -> Any:
        if spec.kind is TaskKind.SQL:
            return spec.definition
        # Tasks run in this process, so they share the container's adapters; an ML_JOB stage submits its
        # job to the simulator's JobRunner from inside the task, as Snowflake runs it synchronously.
        return stage_task(spec.definition, lambda _session: ports(), TaskContextRuntime)

    return SimScheduler(operation, definition_for)


def _sim_doctor(settings: Settings, account: providers.Provider[Any]) -> Any:
    from adapters.simulator.doctor import SimulatorDoctor
    from adapters.simulator.home import default_home

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


def _session(settings: Settings, names: Any) -> Iterator[Any]:
    from adapters.snowflake.session import open_session

    # The configured role and warehouse beat the connection entry's own; defaults only fill what it lacks.
    session = open_session(settings.connection, names, configured=settings.names.given)
    try:
        yield session
    finally:
        session.close()


def _sf_names(settings: Settings) -> Any:
    from adapters.snowflake.session import SnowflakeNames

    return SnowflakeNames.of(settings.object_names)


def _sf(module: str, cls: str) -> Any:
    def build(*args: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(f"adapters.snowflake.{module}"), cls)(*args)

    return build


def _sf_scheduler(session: Any, names: Any) -> Any:
    from adapters.snowflake.scheduler import SnowflakeScheduler
    from app.snowflake_tasks import definition_for

    return SnowflakeScheduler(session, names, definition_for)


def _sf_doctor(settings: Settings, session: providers.Provider[Any], names: Any) -> Any:
    from adapters.snowflake.doctor import SnowflakeDoctor

    # The session is opened by the doctor, so a connection that fails is reported as a check.
    return SnowflakeDoctor(
        session, names, target_instances=settings.pipeline.target_instances, connection=settings.connection
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Object(_utc_now)
    backend = providers.Callable(lambda s: s.backend, settings)

    account = providers.Resource(_account, settings)
    sim_feature_store = providers.Singleton(_sim_feature_store, account, settings)
    sim_jobs = providers.Singleton(_sim_jobs, account, settings)
    sim_registry = providers.Singleton(_sim_registry, account)
    sim_notifier = providers.Singleton(_sim_notifier, account)
    dag_operation = providers.Singleton(_dag_operation, account, sim_notifier, sim_jobs)

    sf_names = providers.Singleton(_sf_names, settings)
    session = providers.Resource(_session, settings, sf_names)
    sf_feature_store = providers.Singleton(_sf("feature_store", "SnowflakeFeatureStore"), session, sf_names)
    sf_jobs = providers.Singleton(_sf("jobs", "SnowflakeJobRunner"), session, sf_names)
    sf_registry = providers.Singleton(_sf("registry", "SnowflakeModelRegistry"), session, sf_names)
    sf_notifier = providers.Singleton(_sf("notifier", "SnowflakeNotifier"), session, sf_names)

    feature_store = providers.Selector(backend, simulator=sim_feature_store, snowflake=sf_feature_store)
    jobs = providers.Selector(backend, simulator=sim_jobs, snowflake=sf_jobs)
    registry = providers.Selector(backend, simulator=sim_registry, snowflake=sf_registry)
    notifier = providers.Selector(backend, simulator=sim_notifier, snowflake=sf_notifier)
    ports = providers.Singleton(Ports, feature_store, jobs, registry, notifier, clock)

    sim_scheduler = providers.Singleton(_sim_scheduler, dag_operation, ports.provider)
    sf_scheduler = providers.Singleton(_sf_scheduler, session, sf_names)
    scheduler = providers.Selector(backend, simulator=sim_scheduler, snowflake=sf_scheduler)

    sim_doctor = providers.Singleton(_sim_doctor, settings, account.provider)
    sf_doctor = providers.Singleton(_sf_doctor, settings, session.provider, sf_names)
    doctor = providers.Selector(backend, simulator=sim_doctor, snowflake=sf_doctor)


def build_container(settings: Settings) -> Container:
    """Build the container; call ``container.shutdown_resources()`` when done (it closes only what was opened)."""
    return Container(settings=settings)
