"""TaskRuntime contract (``domain.ports.TaskRuntime``): what a running task knows of its graph run.

Each test runs small bodies as a chain of tasks of one graph run (the ``task_probes`` capability): inside the
simulator's engine on the runtime a deployed task gets, and on ``FakeTaskRuntime`` directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.errors import InvalidData
from domain.graph import MAX_RETURN_VALUE_BYTES
from domain.ports import TaskRuntime


def test_graph_config_is_the_root_config_merged_with_the_run_override(task_probes: Any) -> None:
    out = task_probes.run_chain(
        [("A", lambda rt: rt.graph_config())],
        config={"threshold": 0.7, "model": "M"},
        override={"model": "N"},
    )

    assert out["A"] == {"threshold": 0.7, "model": "N"}


def test_a_predecessor_and_an_ancestor_value_are_read_by_short_name(task_probes: Any) -> None:
    out = task_probes.run_chain(
        [
            ("A", lambda rt: rt.set_return_value("from-a")),
            ("B", lambda rt: rt.set_return_value("from-b")),
            ("C", lambda rt: (rt.predecessor_value("B"), rt.predecessor_value("A"))),
        ],
        config={},
    )

    assert out["C"] == ("from-b", "from-a")


def test_a_predecessor_that_set_no_value_reads_as_none(task_probes: Any) -> None:
    out = task_probes.run_chain(
        [("A", lambda rt: None), ("B", lambda rt: rt.predecessor_value("A"))], config={}
    )

    assert out["B"] is None


def test_set_return_value_stores_the_text_of_the_value(task_probes: Any) -> None:
    out = task_probes.run_chain(
        [("A", lambda rt: rt.set_return_value(42)), ("B", lambda rt: rt.predecessor_value("A"))], config={}
    )

    assert out["B"] == "42"


def test_a_return_value_over_10_kb_is_invalid_data(task_probes: Any) -> None:
    def too_big(rt: TaskRuntime) -> None:
        rt.set_return_value("x" * (MAX_RETURN_VALUE_BYTES + 1))

    out = task_probes.run_chain([("A", too_big)], config={})

    assert isinstance(out["A"], InvalidData)


def test_a_return_value_of_exactly_10_kb_is_kept(task_probes: Any) -> None:
    value = "x" * MAX_RETURN_VALUE_BYTES
    out = task_probes.run_chain(
        [("A", lambda rt: rt.set_return_value(value)), ("B", lambda rt: rt.predecessor_value("A"))], config={}
    )

    assert out["B"] == value


def test_scheduled_time_is_utc_and_the_same_for_every_task_of_the_run(task_probes: Any) -> None:
    out = task_probes.run_chain(
        [("A", lambda rt: rt.scheduled_time()), ("B", lambda rt: rt.scheduled_time())], config={}
    )

    assert out["A"].utcoffset() == timedelta(0)
    assert out["A"] == out["B"]


def test_current_task_name_is_the_short_name(task_probes: Any) -> None:
    out = task_probes.run_chain([("A", lambda rt: None), ("B", lambda rt: rt.current_task_name())], config={})

    assert out["B"] == "B"


def test_task_state_reports_this_runs_state_of_another_task(task_probes: Any) -> None:
    out = task_probes.run_chain([("A", lambda rt: None), ("B", lambda rt: rt.task_state("A"))], config={})

    assert out["B"] == "SUCCEEDED"


def test_every_task_of_a_run_reads_the_same_graph_run_id(task_probes: Any) -> None:
    out = task_probes.run_chain(
        [("A", lambda rt: rt.graph_run_id()), ("B", lambda rt: rt.graph_run_id())], config={}
    )

    assert out["A"] == out["B"] and str(out["A"]).isdigit()
