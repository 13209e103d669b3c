"""Stored-procedure emulation: run deployed task bodies as Snowflake runs them, importing the project only from
the zips a deploy uploads (see ``runner``: ``snowpark_zips``, ``zips_from_paths`` or a deploy harness's capture through
``deployed_procedure`` → ``run_in_procedure``)."""

from tests.sproc_emulation.runner import (
    Invocation,
    ProcedureReport,
    TaskRunContext,
    deployed_functions,
    deployed_procedure,
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
    "deployed_procedure",
    "handler_source",
    "run_in_procedure",
    "snowpark_zips",
    "zips_from_paths",
]
