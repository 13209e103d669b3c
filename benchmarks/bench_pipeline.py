"""The whole pipeline as a task graph on the simulator vs the same stages called directly in one process.

Both start from identical copies of one set-up home, so both build the dataset and train once. Goal: the
graph costs at most 1.2× the direct calls. Usage: python benchmarks/bench_pipeline.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from app import provisioning
from app.container import build_container
from app.settings import load_settings
from domain import pipeline as p
from domain.config import RunConfig


def _container(home: Path):
    return build_container(load_settings(env={}, home=home))


def direct(home: Path) -> float:
    c = _container(home)
    try:
        run = RunConfig.from_graph(c.settings().pipeline.to_mapping(), datetime.now(UTC))
        start = time.perf_counter()
        result = p.run_pipeline(c.ports(), run)
        elapsed = time.perf_counter() - start
        assert result.succeeded, result.error
        return elapsed
    finally:
        c.shutdown_resources()


def graph(home: Path) -> float:
    c = _container(home)
    try:
        settings = c.settings()
        spec = p.pipeline_graph(settings.pipeline, name=settings.graph.name)
        scheduler = c.scheduler()
        scheduler.deploy(spec)
        start = time.perf_counter()
        run = scheduler.wait(spec.name, scheduler.run(spec.name), timeout=3600)
        elapsed = time.perf_counter() - start
        assert str(run.state) == "SUCCEEDED", run
        return elapsed
    finally:
        c.shutdown_resources()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=provisioning.DEFAULT_ROWS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        c = _container(template)
        t0 = time.perf_counter()
        c.setup(rows=args.rows)
        c.shutdown_resources()
        print(f"setup of {args.rows} rows: {time.perf_counter() - t0:.2f} s")
        times: dict[str, list[float]] = {"direct": [], "graph": []}
        for i in range(args.repeat):
            for name, fn in (("direct", direct), ("graph", graph)):
                home = Path(tmp) / f"{name}-{i}"
                shutil.copytree(template, home)
                times[name].append(fn(home))
                shutil.rmtree(home)
        d, g = statistics.median(times["direct"]), statistics.median(times["graph"])
        print(f"stages called directly: median {d:.2f} s over {args.repeat} runs {times['direct']}")
        print(f"task graph on the engine: median {g:.2f} s over {args.repeat} runs {times['graph']}")
        print(f"ratio graph/direct: {g / d:.3f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
