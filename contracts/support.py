"""The backends the port contracts run against, each with the capabilities it declares.

As in fsspec's abstract test suites, a contract test never asks which backend it runs on: it asks for its
ports (built by the composition root, ``app.container.build_container``, for the simulator and Snowflake) and
for the capabilities it needs (``Backend.capability``); a backend without one skips the test with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pytest

from domain.errors import NotFound
from domain.ports import FeatureStore, JobRunner, ModelRegistry, Notifier, Scheduler, TaskRuntime
from domain.refs import DatasetRef, ModelArtifact, TrainingRequest
from tests.fakes import (
    FakeClock,
    FakeFeatureStore,
    FakeJobRunner,
    FakeModelRegistry,
    FakeNotifier,
    FakeScheduler,
    FakeTaskRuntime,
)

POOL = "DEMO_POOL"  # the settings' default compute pool, sized by names.compute_pool_max_nodes (2)

# A task body under test: it gets the TaskRuntime of its task and returns what the test inspects.
Body = Callable[[TaskRuntime], Any]


# Every name this test run creates starts with RUN_PREFIX, so cleanup drops this run's objects and no other's.
RUN_PREFIX = f"CT_{uuid.uuid4().hex[:6].upper()}_"


def unique_name(label: str) -> str:
    """An identifier no other test or run uses, so the suite can run against a shared real account."""
    return f"{RUN_PREFIX}{uuid.uuid4().hex[:6].upper()}_{label.upper()}"


# --- capabilities --------------------------------------------------------------------------------------------


class SourceTables(Protocol):
    def load(self, table: str, frame: pd.DataFrame) -> None:
        """Create or replace source table ``table`` with ``frame``."""


class DatasetRows(Protocol):
    def rows(self, ref: DatasetRef) -> pd.DataFrame:
        """Every row of a dataset version."""


class TrainingData(Protocol):
    def request(self, **overrides: Any) -> TrainingRequest:
        """A training request over small prepared train/test versions (``train_labels`` replaces the labels)."""


class ModelArtifacts(Protocol):
    def artifact(self) -> ModelArtifact:
        """A model artifact the registry can log (and, where it scores, load)."""


class TestDatasets(Protocol):
    def test_dataset(self) -> DatasetRef:
        """A labelled dataset version a logged model can be scored on."""


class Integrations(Protocol):
    def create(self, name: str, *, type: str, enabled: bool = True, **options: Any) -> None:
        """Create a notification integration (options as ``CREATE NOTIFICATION INTEGRATION`` takes them)."""


class TaskProbes(Protocol):
    def run_chain(
        self,
        bodies: Sequence[tuple[str, Body]],
        *,
        config: Mapping[str, Any],
        override: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run ``bodies`` as a chain of tasks (each follows the one before) in one graph run; returns what
        each body returned, or the exception it raised, by task name."""


CAPABILITIES = {
    "source_tables": "load source tables",
    "dataset_rows": "read a dataset version's rows",
    "training_data": "prepare the dataset versions a training request reads",
    "trains_models": "train a real model (metrics from data)",
    "model_artifacts": "produce a model artifact",
    "scoring": "score a model on data",
    "integrations": "create notification integrations (account-level privileges)",
    "vendor_warnings": "emit the vendor library's warnings",
    "long_running_sql": "run a SQL task that lasts until it is cancelled",
    "task_probes": "run test code as a task of a graph run",
}


@dataclass
class Backend:
    """One backend under contract: its five port providers and its capabilities (name -> helper)."""

    name: str
    feature_store: Callable[[], FeatureStore]
    jobs: Callable[[], JobRunner]
    registry: Callable[[], ModelRegistry]
    notifier: Callable[[], Notifier]
    scheduler: Callable[[], Scheduler]
    capabilities: dict[str, Any] = field(default_factory=dict)
    close: Callable[[], None] = lambda: None

    def capability(self, name: str) -> Any:
        """The helper for capability ``name``; skips the test, saying why, when this backend lacks it."""
        if name not in CAPABILITIES:
            raise KeyError(f"unknown capability {name!r}; known: {sorted(CAPABILITIES)}")
        if name not in self.capabilities:
            pytest.skip(f"the {self.name} backend cannot {CAPABILITIES[name]}")
        return self.capabilities[name]


# --- fakes ---------------------------------------------------------------------------------------------------


class _FakeProbes:
    """Runs each body on a ``FakeTaskRuntime`` holding what the earlier tasks of the chain left."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def run_chain(
        self,
        bodies: Sequence[tuple[str, Body]],
        *,
        config: Mapping[str, Any],
        override: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        values: dict[str, str] = {}
        states: dict[str, str] = {}
        outcomes: dict[str, Any] = {}
        for name, body in bodies:
            runtime = FakeTaskRuntime(
                config={**config, **(override or {})},
                values=dict(values),
                scheduled=self._clock(),
                task_name=name.upper(),
                states=dict(states),
            )
            try:
                outcomes[name] = body(runtime)
                states[name.upper()] = "SUCCEEDED"
            except Exception as exc:  # the test inspects it
                outcomes[name] = exc
                states[name.upper()] = "FAILED"
            if runtime.returned:
                values[name.upper()] = runtime.returned[-1]
        return outcomes


class _FakeTables:
    def __init__(self, store: FakeFeatureStore, clock: FakeClock) -> None:
        self._store, self._clock = store, clock

    def load(self, table: str, frame: pd.DataFrame) -> None:
        self._clock.advance(seconds=1)  # a replaced table is newer: a new data version
        self._store.tables[table] = self._clock()


class _FakeTraining:
    def request(self, *, train_labels: Any = None, **overrides: Any) -> TrainingRequest:
        ref = DatasetRef("DS", "v1_train", ("MORTGAGERESPONSE",), ("LOAN_ID", "TIMESTAMP"))
        fields: dict[str, Any] = {
            "train": ref,
            "test": DatasetRef("DS", "v1_test", ref.label_cols, ref.exclude_cols),
            "params": {"max_depth": 4},
            "num_boost_round": 2,
            "model_version": "v20260210_092849",
            "compute_pool": POOL,
        }
        return TrainingRequest(**{**fields, **overrides})


class _FakeArtifacts:
    def artifact(self) -> ModelArtifact:
        return ModelArtifact("mem://run_artifacts/v20260210_092849/model.ubj")


class _FakeIntegrations:
    def __init__(self, notifier: FakeNotifier) -> None:
        self._notifier = notifier

    def create(self, name: str, *, type: str, enabled: bool = True, **options: Any) -> None:
        self._notifier.integrations.add(name.upper())
        if not enabled:
            self._notifier.disabled.add(name.upper())


def fake_backend() -> Backend:
    clock = FakeClock(datetime.now(UTC))  # "now": listed versions are compared with the wall clock
    store = FakeFeatureStore(clock, tables={})
    jobs = FakeJobRunner()
    registry = FakeModelRegistry(clock, store)
    notifier = FakeNotifier()
    scheduler = FakeScheduler(clock)
    return Backend(
        "fake",
        feature_store=lambda: store,
        jobs=lambda: jobs,
        registry=lambda: registry,
        notifier=lambda: notifier,
        scheduler=lambda: scheduler,
        capabilities={
            "source_tables": _FakeTables(store, clock),
            "training_data": _FakeTraining(),
            "model_artifacts": _FakeArtifacts(),
            "integrations": _FakeIntegrations(notifier),
            "task_probes": _FakeProbes(clock),
        },
    )


# --- the simulator, built by the composition root ------------------------------------------------------------


def _container_backend(name: str, settings: Any) -> tuple[Backend, Any]:
    from app.container import build_container

    container = build_container(settings)
    backend = Backend(
        name,
        feature_store=container.feature_store,
        jobs=container.jobs,
        registry=container.registry,
        notifier=container.notifier,
        scheduler=container.scheduler,
        close=container.shutdown_resources,
    )
    return backend, container


class _SimTables:
    def __init__(self, account: Any, settings: Any) -> None:
        self._account, self._names = account, settings.names

    def load(self, table: str, frame: pd.DataFrame) -> None:
        from adapters.simulator.feature_store.source_tables import describe_table, load_source_table

        where = {"database": self._names.database, "schema": self._names.data_schema}
        try:
            describe_table(self._account, table, **where)
            exists = True
        except NotFound:
            exists = False
        load_source_table(self._account, table, frame, replace=exists, **where)


class _SimRows:
    def __init__(self, account: Any) -> None:
        self._account = account

    def rows(self, ref: DatasetRef) -> pd.DataFrame:
        from adapters.simulator.feature_store.datasets import read_dataset

        return read_dataset(self._account, ref)


class _SimTraining:
    def __init__(self, files: Path) -> None:
        self._files = files

    def request(self, **overrides: Any) -> TrainingRequest:
        from tests.support.training_data import request_for

        return request_for(self._files, **{"compute_pool": POOL, **overrides})

    def artifact(self) -> ModelArtifact:
        from adapters.simulator.jobs.training import run_training

        outcome = run_training(self.request(), self._files)
        assert outcome is not None  # rank 0 returns the outcome
        return outcome.artifact

    def test_dataset(self) -> DatasetRef:
        from tests.support.training_data import write_dataset

        return write_dataset(self._files, "DS", "v1_test", rows=80, seed=3)


class _SimIntegrations:
    def __init__(self, account: Any) -> None:
        from adapters.simulator.notifications.integrations import IntegrationCatalog

        self._catalog = IntegrationCatalog(account)

    def create(self, name: str, *, type: str, enabled: bool = True, **options: Any) -> None:
        self._catalog.create_integration(name, type=type, enabled=enabled, **options)


class _EngineProbes:
    """Runs bodies inside tasks of the simulator's engine (the one the container's scheduler drives), each
    on the ``TaskRuntime`` a deployed task gets: ``SimTaskRuntime`` over the engine's session."""

    def __init__(self, scheduler: Any) -> None:
        self._operation = scheduler.operation

    def run_chain(
        self,
        bodies: Sequence[tuple[str, Body]],
        *,
        config: Mapping[str, Any],
        override: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        from snowflake.core.task.dagv1 import DAG, DAGTask

        from adapters.simulator.taskgraph.task_runtime import SimTaskRuntime

        outcomes: dict[str, Any] = {}

        def task(name: str, body: Body) -> Callable[[Any], None]:
            def definition(session: Any) -> None:
                try:
                    outcomes[name] = body(SimTaskRuntime(session))
                except Exception as exc:  # the test inspects it; the task itself succeeds
                    outcomes[name] = exc

            return definition

        with DAG(unique_name("probe"), config=dict(config)) as dag:
            previous = None
            for name, body in bodies:
                current = DAGTask(name, task(name, body))
                if previous is not None:
                    previous >> current
                previous = current
        self._operation.deploy(dag)
        try:
            self._operation.run(dag, config=dict(override) if override else None)
        finally:
            self._operation.drop(dag, drop_finalizer=True)
        return outcomes


# Heavy enough to last far longer than any test waits; DuckDB interrupts it when the run is cancelled.
_SIM_LONG_SQL = "SELECT sum(hash(a.range * b.range)) FROM range(1000000) a CROSS JOIN range(1000000) b"


def simulator_backend(home: Path) -> Backend:
    from adapters.simulator.account.objects import ensure_compute_pool
    from tests.support.settings import simulator_settings

    settings = simulator_settings(home)
    backend, _ = _container_backend("simulator", settings)
    account = backend.registry().account  # type: ignore[attr-defined]  # the adapters' shared LocalAccount
    with account.cursor() as cur:  # what `setup` creates on a new home: the configured pool
        ensure_compute_pool(cur, POOL, settings.names.compute_pool_max_nodes)
    training = _SimTraining(account.files)
    backend.capabilities = {
        "source_tables": _SimTables(account, settings),
        "dataset_rows": _SimRows(account),
        "training_data": training,
        "trains_models": training,
        "model_artifacts": training,
        "scoring": training,
        "integrations": _SimIntegrations(account),
        "vendor_warnings": True,
        "long_running_sql": _SIM_LONG_SQL,
        "task_probes": _EngineProbes(backend.scheduler()),
    }
    return backend


# --- Snowflake, built by the composition root ----------------------------------------------------------------


class _SnowflakeData:
    """Test-side helpers on their own Snowpark session (not the adapters'), in the configured data schema."""

    def __init__(self, connection: str, settings: Any) -> None:
        from snowflake.snowpark import Session

        self.session = Session.builder.config("connection_name", connection).create()
        self.session.use_schema(f"{settings.names.database}.{settings.names.data_schema}")

    def load(self, table: str, frame: pd.DataFrame) -> None:
        self.session.write_pandas(frame, table, auto_create_table=True, overwrite=True, use_logical_type=True)

    def rows(self, ref: DatasetRef) -> pd.DataFrame:
        from snowflake.ml.dataset import load_dataset

        return load_dataset(self.session, ref.name, ref.version).read.to_pandas()

    def close(self) -> None:
        from contracts.snowflake_objects import drop_objects_like

        drop_objects_like(self.session, RUN_PREFIX, kinds=("DATASET", "TABLE", "MODEL"))
        self.session.close()


def snowflake_backend(connection: str) -> Backend:
    from tests.support.settings import snowflake_settings

    settings = snowflake_settings(connection)
    backend, _ = _container_backend("snowflake", settings)
    data = _SnowflakeData(connection, settings)
    shutdown = backend.close

    def close() -> None:
        try:
            data.close()
        finally:
            shutdown()

    backend.close = close
    backend.capabilities = {
        "source_tables": data,
        "dataset_rows": data,
        "vendor_warnings": True,
        # GENERATOR(TIMELIMIT => s) runs for s seconds (Snowflake's GENERATOR table function docs).
        "long_running_sql": "SELECT COUNT(*) FROM TABLE(GENERATOR(TIMELIMIT => 300))",
    }
    return backend
