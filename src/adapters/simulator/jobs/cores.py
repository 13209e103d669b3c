"""How many threads each instance of a simulated ML Job gets: the supervisor (runner) sets it, training reads it.

Its own module so that the worker (which imports training lazily) and training do not import each other.
"""

from __future__ import annotations

import os

THREADS_VARIABLE = "OMP_NUM_THREADS"


def threads_per_instance(instances: int) -> int:
    """This machine's cores shared among a job's instances: on Snowflake each instance has a node of its own,
    here they all run on the cores this process may use (its affinity, which a container may restrict)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core counts
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, cores // instances)
