"""Stored-procedure emulation: run deployed task bodies as Snowflake runs them, importing the project only from
the zips a deploy uploads (see ``runner``: ``snowpark_zips`` or ``zips_from_paths`` → ``run_in_procedure``)."""

from tests.sproc_emulation.runner import (
    Invocation,
    ProcedureReport,
    TaskRunContext,
    deployed_functions,
    handler_source,
    run_in_procedure,
    snowpark_zips,
    zips_from_paths,
)

__all__ = [
    "Invocation",
    "ProcedureReport",
    "TaskRunContext",
    "deployed_functions",
    "handler_source",
    "run_in_procedure",
    "snowpark_zips",
    "zips_from_paths",
]
