"""The simulator backend: a local Snowflake account on DuckDB, Parquet files and local XGBoost."""

from adapters.simulator.taskgraph.operation import LocalDAGOperation

__all__ = ["LocalDAGOperation"]
