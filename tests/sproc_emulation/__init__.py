"""Stored-procedure emulation: run deployed task bodies as Snowflake runs them, importing the project only
from the zips a deploy uploads. Zips come from ``snowpark_zips`` (built by Snowpark's own zip function) or
from a deploy harness's capture (``deployed_procedure``); either goes to ``run_in_procedure``."""

from tests.sproc_emulation.runner import (
    Invocation,
    ProcedureReport,
    TaskRunContext,
    deployed_procedure,
    run_in_procedure,
    snowpark_zips,
)

__all__ = [
    "Invocation",
    "ProcedureReport",
    "TaskRunContext",
    "deployed_procedure",
    "run_in_procedure",
    "snowpark_zips",
]
