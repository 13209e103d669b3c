"""The composition root: every port and every backend-specific operation is chosen by the one ``backend``
setting (``providers.Selector``), built by the factories of ``app.composition``.

Only the chosen branch is ever built, so the simulator never opens a Snowflake session and the snowflake
backend never creates a local home. Where a backend cannot do something, its branch fails with a named
``Unsupported``, so the CLI never asks which backend it has. Importing this module imports no adapter.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from dependency_injector import containers, providers

from app import composition as build
from app import provisioning
from app.local_scheduler import LocalScheduler
from app.settings import Settings
from domain.pipeline import Ports
from domain.schedule import utc_now


def _deployed_definitions() -> Any:
    # Imported when a Snowflake deploy is built: the task bodies import Snowpark, which the CLI need not load.
    from app.snowflake_tasks import definition_for

    return definition_for


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Object(utc_now)
    backend = providers.Callable(attrgetter("backend"), settings)
    object_names = providers.Callable(attrgetter("object_names"), settings)
    home = providers.Callable(attrgetter("home"), settings)

    # --- simulator ---
    account = providers.Resource(build.open_account, home)
    sim_feature_store = providers.Singleton(build.sim_feature_store, account, object_names)
    sim_jobs = providers.Singleton(build.sim_jobs, account, object_names)
    sim_registry = providers.Singleton(build.sim_registry, account)
    history_days = providers.Callable(attrgetter("graph.history_days"), settings)
    sim_notifier = providers.Singleton(build.sim_notifier, account, history_days)

    # --- snowflake: the ports come from the function the deployed tasks call, one provider per port so
    # that one can be replaced ---
    sf_names = providers.Singleton(build.snowflake_names, object_names)
    session = providers.Resource(build.open_snowflake_session, settings, sf_names)
    sf_ports = providers.Singleton(build.snowflake_ports, session, sf_names, clock)
    sf_feature_store = providers.Callable(attrgetter("feature_store"), sf_ports)
    sf_jobs = providers.Callable(attrgetter("jobs"), sf_ports)
    sf_registry = providers.Callable(attrgetter("registry"), sf_ports)
    sf_notifier = providers.Callable(attrgetter("notifier"), sf_ports)

    # --- the ports ---
    feature_store = providers.Selector(backend, simulator=sim_feature_store, snowflake=sf_feature_store)
    jobs = providers.Selector(backend, simulator=sim_jobs, snowflake=sf_jobs)
    registry = providers.Selector(backend, simulator=sim_registry, snowflake=sf_registry)
    notifier = providers.Selector(backend, simulator=sim_notifier, snowflake=sf_notifier)
    ports = providers.Singleton(Ports, feature_store, jobs, registry, notifier, clock)

    # After the ports: a run a killed process left is reconciled with the registry when the engine opens.
    dag_operation = providers.Singleton(
        build.dag_operation,
        account,
        sim_notifier,
        sim_jobs,
        ports.provider,
        history_days,
    )
    sim_scheduler = providers.Singleton(build.sim_scheduler, dag_operation, ports.provider)
    deployed_definitions = providers.Callable(_deployed_definitions)
    sf_scheduler = providers.Singleton(build.sf_scheduler, session, sf_names, deployed_definitions)
    scheduler = providers.Selector(backend, simulator=sim_scheduler, snowflake=sf_scheduler)

    # --- backend-specific operations ---
    # setup(rows=…, seed=…, signal=…, data=…, force=…) -> lines to print
    setup = providers.Selector(
        backend,
        simulator=providers.Callable(provisioning.setup_simulator, account, settings),
        snowflake=providers.Callable(
            provisioning.setup_snowflake_account,
            session,
            sf_names,
            webhook=providers.Callable(build.snowflake_webhook, settings),
        ),
    )
    # "Which backend, on what": the CLI's first line (nothing is opened to say it).
    context = providers.Selector(
        backend,
        simulator=providers.Callable(build.simulator_context, home),
        snowflake=providers.Callable(
            lambda s: f"snowflake backend, connection {s.connection or '(the default in connections.toml)'}",
            settings,
        ),
    )
    # The simulator home this process has just created (the CLI sets it up first); an account is never new.
    new_home = providers.Selector(
        backend, simulator=providers.Callable(build.new_home, account), snowflake=providers.Object(None)
    )
    local_scheduler = providers.Selector(
        backend,
        simulator=providers.Singleton(
            LocalScheduler, sim_scheduler, dag_operation, providers.Callable(attrgetter("home"), account)
        ),
        snowflake=providers.Callable(
            build.unsupported,
            "Snowflake schedules graphs itself; the local scheduler is for the simulator backend",
        ),
    )
    # States of the tasks still executing in a run (graph, run id) -> {task: state}: the simulator reports
    # them; Snowflake's TASK_HISTORY lists running tasks itself.
    live_task_states = providers.Selector(
        backend,
        simulator=providers.Callable(attrgetter("live_task_states"), sim_scheduler),
        snowflake=providers.Object(None),
    )
    # Task bodies are Python callables in the process that runs them: a simulator run started by a new
    # process (retry, execute) attaches the deployed graph first; Snowflake runs the procedures it stores.
    attach_graph = providers.Selector(
        backend,
        simulator=providers.Callable(attrgetter("attach"), sim_scheduler),
        snowflake=providers.Object(None),
    )
    # Whether a run started here lives in this process (the simulator runs its tasks here), so that leaving
    # it running after Ctrl-C means waiting for it; Snowflake runs it in the account.
    run_lives_in_process = providers.Selector(
        backend, simulator=providers.Object(True), snowflake=providers.Object(False)
    )
    # Where the commands read and write, as a report states it: the simulator home or the connection.
    location = providers.Selector(
        backend,
        simulator=providers.Callable(lambda account: f"home {account.home}", account),
        snowflake=providers.Callable(lambda s: f"connection {s.connection or '(default)'}", settings),
    )
    deploy_plan = providers.Singleton(
        build.deploy_plan,
        sf_names,
        deployed_definitions,
        providers.Selector(backend, simulator=providers.Object(None), snowflake=session.provider),
    )

    sim_doctor = providers.Singleton(build.sim_doctor, settings, account.provider)
    sf_doctor = providers.Singleton(build.sf_doctor, settings, session.provider, sf_names)
    doctor = providers.Selector(backend, simulator=sim_doctor, snowflake=sf_doctor)


def build_container(settings: Settings) -> Container:
    """Build the container; call ``container.shutdown_resources()`` when done (it closes only what was opened)."""
    return Container(settings=settings)


def build_guest_container(settings: Settings, host: Container) -> Container:
    """A container for a command another process forwarded to this one (``app.control``): its own adapters on
    the host's open account and task-graph engine, whose in-memory runs a ``cancel`` must reach (a second engine
    would also take the host's live runs for abandoned ones). The host builds its engine before it serves."""
    guest = Container(settings=settings)
    guest.account.override(providers.Object(host.account()))
    guest.sim_jobs.override(providers.Object(host.sim_jobs()))
    guest.sim_notifier.override(providers.Object(host.sim_notifier()))
    guest.dag_operation.override(providers.Object(host.dag_operation()))
    return guest
