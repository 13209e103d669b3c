"""The dagv1 DAG built from the pipeline spec, checked on the low-level Task objects Snowflake receives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from snowflake.core.task import StoredProcedureCall

from adapters.snowflake.scheduler import SnowflakeScheduler, deploy_imports, deploy_packages
from adapters.snowflake.session import SnowflakeNames
from domain.config import PipelineConfig
from domain.errors import InvalidConfig
from domain.graph import GraphSpec, TaskKind, TaskSpec
from domain.pipeline import pipeline_graph
from domain.schedule import IntervalSchedule

G = "MORTGAGE_PIPELINE"
NAMES = SnowflakeNames()


def task_function(session: object) -> str:
    return "done"


def definitions(spec: TaskSpec) -> object:
    return task_function


def _graph(**kw: object) -> GraphSpec:
    return pipeline_graph(PipelineConfig(), name=G, warehouse="DEMO_WH", **kw)  # type: ignore[arg-type]


def _low_level(graph: GraphSpec) -> dict[str, object]:
    dag = SnowflakeScheduler(None, NAMES, definitions).build(graph)
    out = {t.full_name: t._to_low_level_task() for t in dag.tasks}
    out[dag.name] = dag._to_low_level_task()
    return out


def test_the_dag_has_the_root_and_one_task_per_stage() -> None:
    assert set(_low_level(_graph())) == {
        G,
        f"{G}$prepare_data",
        f"{G}$train_model",
        f"{G}$check_model_quality",
        f"{G}$promote_model",
        f"{G}$send_alert",
        f"{G}$cleanup",
    }


def test_edges_point_from_predecessor_to_successor() -> None:
    edges = {
        (pred, name)
        for name, task in _low_level(_graph()).items()
        for pred in (task.predecessors or [])  # type: ignore[attr-defined]
    }
    assert edges == {
        (G, f"{G}$prepare_data"),
        (f"{G}$prepare_data", f"{G}$train_model"),
        (f"{G}$train_model", f"{G}$check_model_quality"),
        (f"{G}$check_model_quality", f"{G}$promote_model"),
        (f"{G}$check_model_quality", f"{G}$send_alert"),
    }


def test_branch_successors_run_when_the_branch_returns_their_exact_name() -> None:
    tasks = _low_level(_graph())
    branch = f"SYSTEM$GET_PREDECESSOR_RETURN_VALUE('{G}$CHECK_MODEL_QUALITY')"
    assert tasks[f"{G}$promote_model"].condition == f"{branch} = 'promote_model'"  # type: ignore[attr-defined]
    assert tasks[f"{G}$send_alert"].condition == f"{branch} = 'send_alert'"  # type: ignore[attr-defined]
    others = [n for n in tasks if not n.endswith(("promote_model", "send_alert"))]
    assert all(tasks[n].condition is None for n in others)  # type: ignore[attr-defined]


def test_cleanup_is_the_finalizer_of_the_root_with_no_predecessors() -> None:
    cleanup = _low_level(_graph())[f"{G}$cleanup"]
    assert cleanup.finalize == G  # type: ignore[attr-defined]
    assert cleanup.predecessors is None  # type: ignore[attr-defined]


def test_the_root_carries_config_schedule_and_warehouse_and_runs_nothing() -> None:
    graph = _graph(schedule=IntervalSchedule(timedelta(hours=12)))
    root = _low_level(graph)[G]
    assert root.definition == "select 'dag dummy root'"  # type: ignore[attr-defined]
    assert root.config == dict(graph.config)  # type: ignore[attr-defined]
    assert root.config["metric_name"] == PipelineConfig().metric_name  # type: ignore[attr-defined]
    assert root.schedule == timedelta(hours=12)  # type: ignore[attr-defined]
    assert root.warehouse == "DEMO_WH"  # type: ignore[attr-defined]


def test_python_tasks_are_procedures_on_the_dag_stage_with_the_project_and_packages() -> None:
    train = _low_level(_graph())[f"{G}$train_model"]
    definition = train.definition  # type: ignore[attr-defined]
    assert isinstance(definition, StoredProcedureCall)
    assert definition._stage_location == "@SNOWBANK.DEV.DAG_STAGE"
    assert definition._packages == deploy_packages()
    assert {pkg for _, pkg in definition._imports} >= {"domain", "adapters"}
    assert train.warehouse == "DEMO_WH"  # type: ignore[attr-defined]


def test_sql_tasks_keep_their_text() -> None:
    graph = GraphSpec(name="G1", tasks=(TaskSpec("ping", TaskKind.SQL, "select 1"),), warehouse="WH")
    dag = SnowflakeScheduler(None, NAMES, lambda spec: spec.definition).build(graph)
    assert dag.tasks[0]._to_low_level_task().definition == "select 1"


def test_deploy_imports_ship_each_package_under_its_import_name() -> None:
    pairs = deploy_imports(".")
    assert [pkg for _, pkg in pairs] == ["domain", "adapters", "app"]
    assert all(path.endswith(f"src/{pkg}") for path, pkg in pairs)


def test_deploy_imports_default_to_where_the_packages_are_imported_from() -> None:
    import domain

    pairs = dict((pkg, path) for path, pkg in deploy_imports())
    assert pairs["domain"] == str(Path(domain.__file__).parent)


def test_deploy_imports_refuse_a_folder_without_the_project(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="cannot find the project's packages"):
        deploy_imports(tmp_path)


def test_the_guides_packages_are_listed_and_extras_appended_once() -> None:
    packages = deploy_packages(("xgboost", "dependency-injector"))
    assert packages[:4] == [
        "snowflake-snowpark-python==1.56.0",
        "snowflake-ml-python==2.6.0",
        "snowflake.core==1.14.0",
        "xgboost==3.2.0",
    ]
    assert not any(p == "xgboost" for p in packages) and packages[-1] == "dependency-injector"
