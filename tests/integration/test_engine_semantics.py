"""The engine's runtime rules, on dagv1 DAGs written as users write them (taskgraph-semantics.md §3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.core.task.context import TaskContext
from snowflake.core.task.dagv1 import DAG, DAGTask, DAGTaskBranch

from adapters.simulator import LocalDAGOperation


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def ok(session: Any) -> str:
    return "ok"


def boom(session: Any) -> None:
    raise RuntimeError("boom")


def states(op: LocalDAGOperation, dag: DAG, run_id: int) -> dict[str, str]:
    return op.task_states(dag, run_id)


def test_a_linear_graph_runs_in_order_and_succeeds(op: LocalDAGOperation) -> None:
    order: list[str] = []
    with DAG("lin") as dag:
        a = DAGTask("a", lambda s: order.append("a"))
        b = DAGTask("b", lambda s: order.append("b"))
        a >> b
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED" and order == ["a", "b"]
    assert [h.name for h in op.task_history(dag)] == ["LIN", "LIN$A", "LIN$B"]


def test_a_failure_stops_descendants_as_not_executed_without_history_rows(op: LocalDAGOperation) -> None:
    with DAG("f") as dag:
        a = DAGTask("a", boom)
        b = DAGTask("b", ok)
        c = DAGTask("c", ok)
        a >> b >> c
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED"
    assert run.first_error_task_name == "F$A" and "RuntimeError: boom" in run.first_error_message
    assert states(op, dag, run.run_id) == {"a": "FAILED", "b": "NOT_EXECUTED", "c": "NOT_EXECUTED"}
    assert {h.name for h in op.task_history(dag)} == {"F", "F$A"}


def test_the_branch_runs_only_the_named_successor_and_skips_the_rest(op: LocalDAGOperation) -> None:
    with DAG("br", use_func_return_value=True) as dag:
        choose = DAGTaskBranch("choose", lambda s: "left")
        left = DAGTask("left", ok)
        right = DAGTask("right", ok)
        after_right = DAGTask("after_right", ok)
        choose >> [left, right]
        right >> after_right
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED"
    assert states(op, dag, run.run_id) == {
        "choose": "SUCCEEDED",
        "left": "SUCCEEDED",
        "right": "SKIPPED",
        "after_right": "NOT_EXECUTED",
    }
    assert next(h for h in op.task_history(dag) if h.name == "BR$CHOOSE").return_value == "left"


@pytest.mark.parametrize("returned", [None, "LEFT", "nobody"])
def test_a_branch_returning_nothing_or_an_unknown_name_skips_every_successor(
    op: LocalDAGOperation, returned: str | None
) -> None:
    with DAG("br2", use_func_return_value=True) as dag:
        choose = DAGTaskBranch("choose", lambda s: returned)
        choose >> [DAGTask("left", ok), DAGTask("right", ok)]
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SUCCEEDED"
    assert states(op, dag, run.run_id)["left"] == states(op, dag, run.run_id)["right"] == "SKIPPED"


def test_without_use_func_return_value_the_return_is_discarded(op: LocalDAGOperation) -> None:
    with DAG("nofunc") as dag:
        choose = DAGTaskBranch("choose", lambda s: "left")
        choose >> DAGTask("left", ok)
    op.deploy(dag)
    run = op.run(dag)
    assert states(op, dag, run.run_id)["left"] == "SKIPPED"


def test_return_values_are_str_of_the_result_and_readable_by_ancestor_name(op: LocalDAGOperation) -> None:
    seen: dict[str, str] = {}

    def grandchild(session: Any) -> None:
        ctx = TaskContext(session)
        seen["a"] = ctx.get_predecessor_return_value("a")
        seen["b"] = ctx.get_predecessor_return_value("b")

    with DAG("rv", use_func_return_value=True) as dag:
        a = DAGTask("a", lambda s: {"k": 1})
        b = DAGTask("b", lambda s: None)
        a >> b >> DAGTask("c", grandchild)
    op.deploy(dag)
    assert op.run(dag).state == "SUCCEEDED"
    assert seen == {"a": "{'k': 1}", "b": "None"}


def test_a_return_value_over_10_kb_fails_the_task_with_a_clear_error(op: LocalDAGOperation) -> None:
    with DAG("big", use_func_return_value=True) as dag:
        DAGTask("a", lambda s: "x" * 10241)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED"
    assert "10241 bytes" in run.first_error_message and "10 kB" in run.first_error_message


def test_exactly_10_kb_is_accepted(op: LocalDAGOperation) -> None:
    with DAG("edge", use_func_return_value=True) as dag:
        DAGTask("a", lambda s: "é" * 5120)
    op.deploy(dag)
    assert op.run(dag).state == "SUCCEEDED"


def test_the_finalizer_runs_last_after_a_failure(op: LocalDAGOperation) -> None:
    order: list[str] = []
    with DAG("fin") as dag:
        a = DAGTask("a", lambda s: order.append("a"))
        b = DAGTask("b", boom)
        DAGTask("cleanup", lambda s: order.append("cleanup"), is_finalizer=True)
        a >> b
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED" and order == ["a", "cleanup"]
    assert states(op, dag, run.run_id)["cleanup"] == "SUCCEEDED"


def test_a_failing_finalizer_fails_the_graph(op: LocalDAGOperation) -> None:
    with DAG("finfail") as dag:
        DAGTask("a", ok)
        DAGTask("cleanup", boom, is_finalizer=True)
    op.deploy(dag)
    assert op.run(dag).state == "FAILED"


def test_a_false_root_condition_skips_the_run_without_rows_or_finalizer(op: LocalDAGOperation) -> None:
    ran: list[str] = []
    with DAG("rootskip", condition="1 = 2") as dag:
        DAGTask("a", lambda s: ran.append("a"))
        DAGTask("cleanup", lambda s: ran.append("cleanup"), is_finalizer=True)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "SKIPPED" and ran == []
    assert op.get_complete_dag_runs(dag, error_only=False) == [] and op.task_history(dag) == []


def test_a_join_after_a_branch_needs_a_predecessors_state_condition(op: LocalDAGOperation) -> None:
    with DAG("join", use_func_return_value=True) as dag:
        choose = DAGTaskBranch("choose", lambda s: "left")
        left, right = DAGTask("left", ok), DAGTask("right", ok)
        default_join = DAGTask("default_join", ok)
        done_join = DAGTask("done_join", ok, condition="SYSTEM$PREDECESSORS_STATE('NONE_FAILED')")
        choose >> [left, right]
        default_join << [left, right]
        done_join << [left, right]
    op.deploy(dag)
    run = op.run(dag)
    got = states(op, dag, run.run_id)
    assert got["default_join"] == "NOT_EXECUTED" and got["done_join"] == "SUCCEEDED"


def test_an_all_done_condition_runs_after_a_failure(op: LocalDAGOperation) -> None:
    with DAG("alldone") as dag:
        a = DAGTask("a", boom)
        a >> DAGTask("report", ok, condition="SYSTEM$PREDECESSORS_STATE('ALL_DONE')")
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED" and states(op, dag, run.run_id)["report"] == "SUCCEEDED"


def test_task_completion_state_sees_an_ancestor(op: LocalDAGOperation) -> None:
    with DAG("tcs") as dag:
        a = DAGTask("a", boom)
        a >> DAGTask(
            "b",
            ok,
            condition="SYSTEM$PREDECESSORS_STATE('ALL_DONE') and SYSTEM$TASK_COMPLETION_STATE('TCS$A') = 'FAILED'",
        )
    op.deploy(dag)
    run = op.run(dag)
    assert states(op, dag, run.run_id)["b"] == "SUCCEEDED"


def test_independent_tasks_run_concurrently(op: LocalDAGOperation) -> None:
    import threading

    barrier = threading.Barrier(3, timeout=5)
    with DAG("par") as dag:
        for i in range(3):
            DAGTask(f"t{i}", lambda s: barrier.wait())
    op.deploy(dag)
    assert op.run(dag).state == "SUCCEEDED"


def test_a_timed_out_task_fails_with_a_timeout_message(op: LocalDAGOperation) -> None:
    with DAG("slow") as dag:
        DAGTask("nap", lambda s: time.sleep(2), user_task_timeout_ms=200)
        DAGTask("cleanup", ok, is_finalizer=True)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED" and "timed out after 200 ms" in run.first_error_message
    assert states(op, dag, run.run_id) == {"nap": "FAILED", "cleanup": "SUCCEEDED"}


def test_the_root_timeout_is_the_default_for_every_task(op: LocalDAGOperation) -> None:
    with DAG("slowroot", user_task_timeout_ms=200) as dag:
        DAGTask("nap", lambda s: time.sleep(2))
    op.deploy(dag)
    assert "timed out after 200 ms" in op.run(dag).first_error_message


def test_the_graph_config_and_a_per_run_override_are_merged(op: LocalDAGOperation) -> None:
    seen: list[Any] = []

    def read(session: Any) -> None:
        ctx = TaskContext(session)
        seen.append((ctx.get_task_graph_config(), ctx.get_task_graph_config_property("b")))

    with DAG("cfg", config={"a": 1, "b": "x"}) as dag:
        DAGTask("read", read)
    op.deploy(dag)
    op.run(dag)
    op.run(dag, config={"b": "y", "c": {"d": 1}})
    assert seen == [({"a": 1, "b": "x"}, "x"), ({"a": 1, "b": "y", "c": {"d": 1}}, "y")]


def test_run_ids_are_epoch_milliseconds_of_the_scheduled_time(op: LocalDAGOperation) -> None:
    with DAG("rid") as dag:
        DAGTask("a", ok)
    op.deploy(dag)
    run = op.run(dag)
    assert run.run_id == int(run.scheduled_time.timestamp() * 1000)
    assert run.dag_name == "RID" and run.graph_version == 1


def test_a_sql_statement_past_its_timeout_is_interrupted_and_the_task_fails(op: LocalDAGOperation) -> None:
    with DAG("slowsql", user_task_timeout_ms=300) as dag:
        DAGTask("heavy", "select count(*) from range(40000000000) t(i) where i % 7 = 3")
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED" and run.first_error_code == 630
    assert run.first_error_message == "Task SLOWSQL$HEAVY timed out after 300 ms (USER_TASK_TIMEOUT_MS)"


def test_a_task_holding_the_account_past_its_timeout_still_times_out(op: LocalDAGOperation) -> None:
    def hold(session: Any) -> None:
        with op.account.cursor():  # a long statement of its own: the account is busy meanwhile
            time.sleep(0.4)

    with DAG("holder", user_task_timeout_ms=100) as dag:
        DAGTask("hold", hold)
    op.deploy(dag)
    run = op.run(dag)
    assert run.state == "FAILED" and "timed out after 100 ms" in run.first_error_message
    assert states(op, dag, run.run_id) == {"hold": "FAILED"}
