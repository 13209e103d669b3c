"""The local task-graph engine: runs ``snowflake.core.task.dagv1`` DAGs with Snowflake's semantics."""
