"""The TaskRuntime a task of the simulator's engine gets: the shared TaskContext runtime over the engine's session.

Snowflake's ``SYSTEM$TASK_RUNTIME_INFO`` offers the run group's id, not the RUN_ID that ``runs`` lists, so the
graph run's id comes from the engine, which binds it to the running task's thread.
"""

from __future__ import annotations

from adapters.dagv1.task_runtime import TaskContextRuntime
from adapters.simulator.taskgraph.session import active_run_id


class SimTaskRuntime(TaskContextRuntime):
    def graph_run_id(self) -> str:
        return active_run_id()
