"""Finding a simulated ML Job's worker processes, to check that none outlives its job."""

from __future__ import annotations

from pathlib import Path

from adapters.simulator.jobs import worker
from domain.refs import JobRef


def worker_pids(job: JobRef) -> list[int]:
    """Live worker processes of a job, found by the job folder on their command line."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if worker.__name__ in cmdline and f"/{job.name}\0" in cmdline:
            pids.append(int(entry.name))
    return pids
