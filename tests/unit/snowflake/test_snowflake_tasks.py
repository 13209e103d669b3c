"""Deployed task bodies build the real adapters on the objects the graph was deployed with."""

from __future__ import annotations

from app.settings import Names
from app.snowflake_tasks import _ports, definition_for
from domain.config import PipelineConfig
from domain.pipeline import pipeline_graph


class ProcedureSession:
    """What a stored procedure's session reports as current."""

    def get_current_database(self) -> str:
        return '"PROC_DB"'

    def get_current_schema(self) -> str:
        return '"PROC_SCHEMA"'

    def get_current_warehouse(self) -> str:
        return '"PROC_WH"'


def test_the_deployed_names_travel_in_the_graph_config_to_the_tasks() -> None:
    names = Names(database="ML", schema="PROD", data_schema="FEATURES", warehouse="BIG_WH")
    graph = pipeline_graph(PipelineConfig(compute_pool="GPU_POOL"), deployment=names.deployment())

    ports = _ports(ProcedureSession(), dict(graph.config))

    used = ports.feature_store.names  # type: ignore[attr-defined]
    assert (used.database, used.schema, used.data_schema, used.warehouse) == (
        "ML",
        "PROD",
        "FEATURES",
        "BIG_WH",
    )
    assert used.compute_pool == "GPU_POOL"


def test_without_deployment_entries_the_procedures_session_decides() -> None:
    ports = _ports(ProcedureSession(), PipelineConfig().to_mapping())

    used = ports.registry.names  # type: ignore[attr-defined]
    assert (used.database, used.schema, used.warehouse) == ("PROC_DB", "PROC_SCHEMA", "PROC_WH")


def test_every_stage_has_a_module_level_body_to_deploy() -> None:
    graph = pipeline_graph(PipelineConfig())

    bodies = {t.name: definition_for(t) for t in graph.tasks}

    assert all(callable(b) and b.__module__ == "app.snowflake_tasks" for b in bodies.values())
    assert bodies["train_model"].__name__ == "train_model"


def test_a_quoted_database_of_the_procedures_session_stays_quoted() -> None:
    class QuotedSession(ProcedureSession):
        def get_current_database(self) -> str:
            return '"My Db"'

    ports = _ports(QuotedSession(), PipelineConfig().to_mapping())

    assert ports.registry.names.database == '"My Db"'  # type: ignore[attr-defined]
