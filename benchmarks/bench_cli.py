"""How fast the CLI answers: read-only commands against a baseline measured in the same run (goal: about 1 s).

Times ``runs``, ``models``, ``graph`` and ``plan`` (median of 3 fresh processes each) on a temporary home with one
finished run, and the startup of ``deploy --run`` (until its first line, printed once the CLI has loaded and read
its settings); each is reported as a ratio to ``python -c "import duckdb, pandas"``, the floor any command on a
simulator home pays. Run: ``python benchmarks/bench_cli.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEAT = 3


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def _median(argv: list[str]) -> float:
    return statistics.median(_seconds(argv) for _ in range(REPEAT))


def _startup(argv: list[str]) -> float:
    """Seconds until the command's first line (stderr), then the process is stopped."""
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        proc.stderr.readline()
        samples.append(time.perf_counter() - start)
        proc.kill()
        proc.wait()
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = [sys.executable, "-m", "app", "--home", str(Path(tmp) / "home")]
        subprocess.run([*app, "setup", "--rows", "4000"], check=True, capture_output=True)
        subprocess.run([*app, "deploy", "--run"], check=True, capture_output=True)
        baseline = _median([sys.executable, "-c", "import duckdb, pandas"])
        print(f'baseline  python -c "import duckdb, pandas": {baseline:.2f} s')
        for command in (["runs", "--limit", "1"], ["models"], ["graph"], ["plan"]):
            took = _median([*app, *command])
            print(f"{' '.join(command):<14} {took:5.2f} s = {took / baseline:4.1f}x baseline")
        took = _startup([*app, "deploy", "--run"])
        print(
            f"{'deploy --run':<14} {took:5.2f} s to its first line = {took / baseline:4.1f}x baseline (startup)"
        )


if __name__ == "__main__":
    main()
