"""Invariants of the engine over random graphs, branch choices and injected failures."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snowflake.core.task.dagv1 import DAG, DAGTask, DAGTaskBranch

from adapters.simulator import LocalDAGOperation

TERMINAL = {"SUCCEEDED", "FAILED", "SKIPPED", "NOT_EXECUTED", "CANCELLED"}
_names = itertools.count()


@dataclass(frozen=True)
class Shape:
    size: int
    preds: tuple[tuple[int, ...], ...]  # predecessors of task i are among 0..i-1: acyclic by construction
    fails: frozenset[int]
    branches: dict[
        int, str | None
    ]  # branch task → the name it returns (a successor, an unknown name, or None)
    finalizer: bool


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    size = draw(st.integers(1, 14))
    preds = tuple(
        tuple(sorted(draw(st.sets(st.integers(0, i - 1), max_size=3)))) if i else () for i in range(size)
    )
    fails = frozenset(draw(st.sets(st.integers(0, size - 1), max_size=3)))
    branches: dict[int, str | None] = {}
    for i in range(size):
        successors = [f"t{j}" for j in range(size) if i in preds[j]]
        if successors and draw(st.booleans()):
            branches[i] = draw(st.sampled_from([*successors, "unknown", None]))
    return Shape(size, preds, fails, branches, draw(st.booleans()))


@pytest.fixture(scope="module")
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation(max_workers=4) as operation:
        yield operation


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def task(self, name: str, *, fail: bool, returns: str | None) -> Any:
        def body(session: Any) -> str | None:
            with self._lock:
                self.events.append(("start", name))
            with self._lock:
                self.events.append(("end", name))
            if fail:
                raise RuntimeError(f"injected failure in {name}")
            return returns

        return body


def build(shape: Shape, recorder: Recorder) -> DAG:
    dag = DAG(f"prop{next(_names)}", use_func_return_value=True)
    tasks = []
    for i in range(shape.size):
        cls = DAGTaskBranch if i in shape.branches else DAGTask
        returns = shape.branches.get(i, f"value of t{i}")
        tasks.append(cls(f"t{i}", recorder.task(f"t{i}", fail=i in shape.fails, returns=returns), dag=dag))
    for i, preds in enumerate(shape.preds):
        if preds:
            tasks[i].add_predecessors([tasks[p] for p in preds])
    if shape.finalizer:
        DAGTask("fin", recorder.task("fin", fail=False, returns="fin"), is_finalizer=True, dag=dag)
    return dag


def expected_states(shape: Shape) -> dict[str, str]:
    """The reference model of §3.3: default rule, branch conditions, no retries."""
    states: dict[str, str] = {}
    for i in range(shape.size):
        preds = shape.preds[i]
        if any(states[f"t{p}"] != "SUCCEEDED" for p in preds):
            states[f"t{i}"] = "NOT_EXECUTED"
        elif any(p in shape.branches and shape.branches[p] != f"t{i}" for p in preds):
            states[f"t{i}"] = "SKIPPED"
        else:
            states[f"t{i}"] = "FAILED" if i in shape.fails else "SUCCEEDED"
    if shape.finalizer:
        states["fin"] = "SUCCEEDED"
    return states


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=shapes())
def test_random_graphs_follow_the_rules(op: LocalDAGOperation, shape: Shape) -> None:
    recorder = Recorder()
    dag = build(shape, recorder)
    op.deploy(dag)
    run = op.run(dag)
    states = op.task_states(dag, run.run_id)
    events = recorder.events

    # every task ends in exactly one terminal state, the one the reference model predicts
    assert set(states) == {t.name for t in dag.tasks} and set(states.values()) <= TERMINAL
    assert states == expected_states(shape)

    # a task ran iff it is SUCCEEDED or FAILED, and it ran once
    started = [n for kind, n in events if kind == "start"]
    assert sorted(started) == sorted(n for n, s in states.items() if s in {"SUCCEEDED", "FAILED"})

    # nothing starts before all its predecessors ended
    position = {(kind, n): i for i, (kind, n) in enumerate(events)}
    for i, preds in enumerate(shape.preds):
        if ("start", f"t{i}") in position:
            assert all(position[("end", f"t{p}")] < position[("start", f"t{i}")] for p in preds)

    # the finalizer runs exactly once, after everything else ended
    if shape.finalizer:
        assert started.count("fin") == 1 and events[-2:] == [("start", "fin"), ("end", "fin")]

    # unchosen branch successors and all their descendants never run
    for b, choice in shape.branches.items():
        unchosen = {j for j in range(shape.size) if b in shape.preds[j] and f"t{j}" != choice}
        for j in range(shape.size):  # preds precede successors, so one pass closes over descendants
            if unchosen & set(shape.preds[j]):
                unchosen.add(j)
        for j in unchosen:
            assert states[f"t{j}"] in {"SKIPPED", "NOT_EXECUTED"} and f"t{j}" not in started

    # the graph FAILED iff a task failed
    assert (run.state == "FAILED") == ("FAILED" in states.values())

    # return values are what each task returned, recorded once per task
    returned = {h.name: h.return_value for h in op.task_history(dag, run.run_id) if h.state == "SUCCEEDED"}
    for i in range(shape.size):
        if states[f"t{i}"] == "SUCCEEDED":
            expected = shape.branches.get(i, f"value of t{i}")
            assert returned[f"{dag.name.upper()}$T{i}"] == expected
    op.drop(dag, drop_finalizer=True)
