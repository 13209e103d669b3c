"""The simulator backend: a local Snowflake account on DuckDB, Parquet files and local XGBoost.

``LocalDAGOperation`` is loaded on first use, so that importing any simulator module (a job worker, say) does
not pay for the task-graph engine and ``snowflake.core``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalDAGOperation"]


def __getattr__(name: str) -> Any:
    if name == "LocalDAGOperation":
        from adapters.simulator.dag_operation import LocalDAGOperation

        return LocalDAGOperation
    raise AttributeError(f"module 'adapters.simulator' has no attribute {name!r}")
