"""Graph-run rows written straight to a simulator store: what a crashed (or long-gone) process left behind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.simulator.taskgraph.store import RunRecord
from domain.graph import GraphRunState, ScheduledFrom


def executing_run(
    name: str,
    *,
    run_id: int = 1,
    scheduled: datetime | None = None,
    config: dict[str, Any] | None = None,
) -> RunRecord:
    """Attempt 1 of run ``run_id`` of graph ``name``, started by EXECUTE TASK at ``scheduled`` (now by default) and
    still EXECUTING; ``dataclasses.replace`` it for an ended one."""
    started = scheduled or datetime.now(UTC)
    return RunRecord(
        root_task_name=name,
        run_id=run_id,
        graph_run_group_id=f"group-{name}",
        attempt_number=1,
        state=GraphRunState.EXECUTING,
        scheduled_from=ScheduledFrom.EXECUTE_TASK,
        scheduled_time=started,
        query_start_time=started,
        completed_time=None,
        next_scheduled_time=None,
        first_error_task_name=None,
        first_error_code=None,
        first_error_message=None,
        config=config or {},
        graph_version=1,
        task_states={},
    )
