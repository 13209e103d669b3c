"""Internal stages: where a stage reference's files are.

fakesnow keeps an internal stage's files in ``<bucket>/<DATABASE>/<SCHEMA>/<STAGE>/`` (fakesnow/transforms/stage.py
``internal_dir``, ``parts_from_var``); the rules that read or write stage files resolve references the same way.
"""

from __future__ import annotations

from pathlib import Path

from fakesnow.transforms import stage


def stage_folder(reference: str, database: str | None, schema: str | None) -> Path:
    """The folder of ``@[db.][schema.]stage[/path]``, names resolved as Snowflake does (unquoted upper-case)."""
    name, _, path = reference.removeprefix("@").partition("/")
    db, sc, st = stage.parts_from_var(name, current_database=database, current_schema=schema)
    return Path(stage.internal_dir(f"{db}.{sc}.{st}", path))
