"""Finding a simulated ML Job's processes (workers, its collective tracker), to check that none outlives its job."""

from __future__ import annotations

import os
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


def children_running(module: str) -> list[int]:
    """Child processes of this one running ``python -m module``."""
    me, pids = str(os.getpid()), []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if parent == me and module.encode() in cmdline:
            pids.append(int(entry.name))
    return pids
