"""The whole pipeline as a task graph on the simulator vs the same stages called directly in one process.

Both start from identical copies of one set-up home, so both build the dataset and train once. Goal: the
graph costs at most 1.2× the direct calls. Besides the ratio it prints where the graph's time goes, measured
by timing the engine's and the libraries' own functions during the graph runs (the phases overlap: a statement
runs inside a stage, a stage inside the run): the stages' own work, session logins and logouts, SQL round
trips, history writes. The per-task overhead is (graph − direct) / tasks run. CPU time (this process and its
ML Job workers) is printed too: on a machine other work loads, it moves less than wall time does.
Usage: python benchmarks/bench_pipeline.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app import provisioning
from app.container import build_container
from app.settings import load_settings
from domain import pipeline as p
from domain.config import RunConfig


@dataclass
class Measured:
    wall: float
    cpu: float  # this process and its reaped children (the ML Job workers)
    tasks: int = 0


class Phases:
    """Total time spent in chosen functions while ``timing`` is active (all threads)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._inside = threading.local()  # labels being timed on this thread: a nested call counts once

    @contextmanager
    def timing(self, targets: list[tuple[Any, str, str]]) -> Iterator[None]:
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
        for (owner, name, label), (_, _, original) in zip(targets, originals, strict=True):
            setattr(owner, name, self._timed(label, original))
        try:
            yield
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    def _timed(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            inside: set[str] = self._inside.__dict__.setdefault("labels", set())
            if label in inside:  # e.g. promote_model re-runs check_model_quality
                return func(*args, **kwargs)
            inside.add(label)
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1
                inside.discard(label)

        return timed


def _targets() -> list[tuple[Any, str, str]]:
    """What the graph run is split into; imported here, after the warm-up run has imported them anyway."""
    from snowflake.connector.cursor import SnowflakeCursor
    from snowflake.snowpark import Session

    from adapters.simulator.sql import session as sql_session
    from adapters.simulator.taskgraph.store import GraphStore

    stages = [
        (p, stage, "stages' own work")
        for stage in (
            "prepare_data",
            "train_model",
            "check_model_quality",
            "promote_model",
            "send_alert",
            "cleanup",
        )
    ]
    return [
        *stages,
        (sql_session._UnopenedSession, "_simulator_open", "session login (lazy, on first use)"),
        (Session, "close", "session logout (with its cancel_all statement)"),
        (SnowflakeCursor, "execute", "SQL round trips (client side)"),
        (GraphStore, "start_run", "history writes"),
        (GraphStore, "append_history", "history writes"),
        (GraphStore, "finish_run", "history writes"),
    ]


def _container(home: Path) -> Any:
    return build_container(load_settings(env={}, home=home))


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def direct(home: Path, phases: Phases | None = None) -> Measured:
    c = _container(home)
    try:
        run = RunConfig.from_graph(c.settings().pipeline.to_mapping(), datetime.now(UTC))
        start, cpu = time.perf_counter(), _cpu()
        result = p.run_pipeline(c.ports(), run)
        measured = Measured(time.perf_counter() - start, _cpu() - cpu)
        assert result.succeeded, result.error
        return measured
    finally:
        c.shutdown_resources()


def graph(home: Path, phases: Phases | None = None) -> Measured:
    c = _container(home)
    try:
        settings = c.settings()
        spec = p.pipeline_graph(settings.pipeline, name=settings.graph.name)
        scheduler = c.scheduler()
        started = time.perf_counter()
        scheduler.deploy(spec)
        if phases is not None:
            phases.seconds["deploy (not in the ratio)"] += time.perf_counter() - started
        with phases.timing(_targets()) if phases is not None else _nothing():
            start, cpu = time.perf_counter(), _cpu()
            run = scheduler.wait(spec.name, scheduler.run(spec.name), timeout=3600)
            measured = Measured(time.perf_counter() - start, _cpu() - cpu)
        assert str(run.state) == "SUCCEEDED", run
        # the tasks whose bodies ran (the dummy root runs none)
        measured.tasks = sum(1 for t in run.tasks if str(t.state) == "SUCCEEDED" and "$" in t.name)
        return measured
    finally:
        c.shutdown_resources()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=provisioning.DEFAULT_ROWS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        c = _container(template)
        t0 = time.perf_counter()
        c.setup(rows=args.rows)
        c.shutdown_resources()
        print(f"setup of {args.rows} rows: {time.perf_counter() - t0:.2f} s")
        times: dict[str, list[Measured]] = {"direct": [], "graph": []}
        phases = Phases()
        for i in range(-1, args.repeat):  # run -1 warms up both (imports, first statements): not counted
            for name, fn in (("direct", direct), ("graph", graph)):
                home = Path(tmp) / f"{name}-{i}"
                shutil.copytree(template, home)
                measured = fn(home, phases if name == "graph" and i >= 0 else None)
                if i >= 0:
                    times[name].append(measured)
                shutil.rmtree(home)
    d = statistics.median(m.wall for m in times["direct"])
    g = statistics.median(m.wall for m in times["graph"])
    dc = statistics.median(m.cpu for m in times["direct"])
    gc = statistics.median(m.cpu for m in times["graph"])
    tasks = times["graph"][0].tasks
    print(f"stages called directly: median {d:.2f} s over {args.repeat} runs {_list(times['direct'])}")
    print(f"task graph on the engine: median {g:.2f} s over {args.repeat} runs {_list(times['graph'])}")
    print(f"CPU (process + ML Job workers): direct {dc:.2f} s, graph {gc:.2f} s, ratio {gc / dc:.3f}")
    print(f"per-task overhead: ({g:.2f} - {d:.2f}) s / {tasks} tasks = {(g - d) / tasks * 1000:.0f} ms")
    print(f"where the graph runs' time went (per run, mean over {args.repeat}):")
    for label, seconds in sorted(phases.seconds.items(), key=lambda kv: -kv[1]):
        calls = phases.calls.get(label)
        count = f" in {calls / args.repeat:.0f} calls" if calls else ""
        print(f"  {label:48s} {seconds / args.repeat * 1000:8.1f} ms{count}")
    print(
        f"load average (1 min) before {load_before:.1f}, after {os.getloadavg()[0]:.1f}, on {os.cpu_count()} cores"
    )
    print(f"ratio graph/direct: {g / d:.3f} (goal <= 1.2)")


def _list(measured: list[Measured]) -> str:
    return "[" + ", ".join(f"{m.wall:.2f}" for m in measured) + "]"


if __name__ == "__main__":
    main()
