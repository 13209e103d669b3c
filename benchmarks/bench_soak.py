"""Soak: many graph runs on one simulator home — run time stays flat and the home stops growing.

Deploys the pipeline once with ``expiry_days=0`` (so cleanup may delete everything not in use at once), keeps the
task-graph history and the sent notifications ``--history-seconds`` (10 by default, so the window fills within the
first ten runs), and runs it ``--runs`` times (default 30), one after the other, as a schedule would. After each
run it measures the run's wall time and the home's size on disk without the local mailbox (``files/mail``: the
user's mail, which grows by each notice as a real mailbox does and is never pruned). It prints the median run
time of the first and the last ten runs (goal: the last within 1.25× the first), the home's size after every
tenth run and its growth per run after the first ten (goal: ~0 once the history window is full).
Usage: python benchmarks/bench_soak.py [--runs N] [--rows N] [--history-seconds S] [--detail]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from adapters.simulator.account.home import stored_tables
from app.container import build_container
from app.settings import load_settings, with_pipeline_overrides
from domain import pipeline as p

MAILBOX = Path("files", "mail")  # the user's mail: not the simulator's to prune, so not measured


def home_bytes(home: Path) -> int:
    """Bytes on disk of the home, without the mailbox."""
    return sum(
        f.stat().st_blocks * 512
        for f in home.rglob("*")
        if f.is_file() and not f.relative_to(home).is_relative_to(MAILBOX)
    )


def file_bytes(home: Path) -> dict[str, int]:
    """Bytes on disk per part of the home: each database file, and each folder two levels under files/."""
    parts: dict[str, int] = {}
    for f in home.rglob("*"):
        if f.is_file():
            rel = f.relative_to(home).parts
            key = "/".join(rel[:3] if rel[0] == "files" else rel[:2])
            parts[key] = parts.get(key, 0) + f.stat().st_blocks * 512
    return parts


def table_rows(account: Any) -> dict[str, int]:
    """Rows of every table of the account file and its databases, and each database's free blocks."""
    with account.cursor() as cur:
        counts = {
            f"{cat}.{sch}.{name}": int(
                cur.execute(f'select count(*) from "{cat}"."{sch}"."{name}"').fetchone()[0]
            )
            for cat, sch, name, kind in stored_tables(cur)
            if kind == "BASE TABLE"
        }
        for name, _, _, blocks, _, free, *_ in cur.execute("pragma database_size").fetchall():
            counts[f"{name} total blocks"] = int(blocks)
            counts[f"{name} free blocks"] = int(free)
    return counts


def changed(before: dict[str, int], after: dict[str, int]) -> list[str]:
    return [
        f"  {key}: {before.get(key, 0):,} -> {after.get(key, 0):,}"
        for key in sorted(set(before) | set(after))
        if before.get(key, 0) != after.get(key, 0)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument(
        "--history-seconds",
        type=float,
        default=10.0,
        help="how long task-graph history and sent notifications are kept ([graph] history_days, in seconds)",
    )
    parser.add_argument(
        "--detail", action="store_true", help="print what grew, per file and table, after run 10"
    )
    args = parser.parse_args()
    if args.runs < 20:
        parser.error(f"--runs {args.runs}: at least 20, to compare the first ten runs with the last ten")
    if args.history_seconds <= 0:
        parser.error(f"--history-seconds {args.history_seconds}: must be positive")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        settings = with_pipeline_overrides(load_settings(env={}, home=home), {"expiry_days": 0})
        c = build_container(settings)
        try:
            c.setup(rows=args.rows)
            spec = p.pipeline_graph(settings.pipeline, name=settings.graph.name)
            scheduler = c.scheduler()
            # As expiry_days=0 does for versions: keep task-graph history and sent notifications only a few runs
            # long, so 30 runs show their steady state ([graph] history_days is whole days, 7 by default).
            window = timedelta(seconds=args.history_seconds)
            c.dag_operation().store.retention = window
            c.notifier().retention = window
            p.deploy_graph(c.jobs(), scheduler, spec, settings.pipeline)
            times: list[float] = []
            sizes: list[int] = []
            for i in range(args.runs):
                start = time.perf_counter()
                run = scheduler.wait(spec.name, scheduler.run(spec.name), timeout=600)
                times.append(time.perf_counter() - start)
                assert str(run.state) == "SUCCEEDED", run
                sizes.append(home_bytes(home))
                print(f"run {i + 1:3d}: {times[-1]:6.2f} s, home {sizes[-1] / 1024:9.0f} KiB", flush=True)
                if args.detail and i + 1 == 10:
                    marks = file_bytes(home), table_rows(c.account())
                if args.detail and i + 1 == args.runs:
                    print("what changed from run 10 to the last:")
                    print(
                        "\n".join(
                            changed(marks[0], file_bytes(home)) + changed(marks[1], table_rows(c.account()))
                        )
                    )
                time.sleep(max(0.0, 1.0 - times[-1]))  # model versions are named by the second
        finally:
            c.shutdown_resources()
    first, last = statistics.median(times[:10]), statistics.median(times[-10:])
    growth = (sizes[-1] - sizes[9]) / (args.runs - 10)
    print(
        f"median run time: first ten {first:.2f} s, last ten {last:.2f} s, ratio {last / first:.3f} (goal <= 1.25)"
    )
    after = ", ".join(f"run {n} {sizes[n - 1] / 1024:.0f} KiB" for n in range(10, args.runs + 1, 10))
    print(
        f"home size without the mailbox: after {after}; growth after the first ten runs {growth / 1024:.1f} "
        "KiB/run (goal ~0)"
    )


if __name__ == "__main__":
    main()
