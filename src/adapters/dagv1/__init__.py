"""The ``snowflake.core.task.dagv1`` layer both backends share: GraphSpec -> DAG (``build``) and the TaskRuntime
port over ``TaskContext`` (``task_runtime``). It sits below both backends and imports neither."""
