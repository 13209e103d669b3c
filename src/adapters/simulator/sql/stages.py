"""Internal stages: where a stage reference's files are.

fakesnow keeps an internal stage's files in ``<bucket>/<DATABASE>/<SCHEMA>/<STAGE>/`` (fakesnow/transforms/stage.py
``internal_dir``, ``parts_from_var``); the rules that read or write stage files resolve references the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from fakesnow.transforms import stage


def stage_folder(reference: str, database: str | None, schema: str | None) -> Path:
    """The folder of ``@[db.][schema.]stage[/path]``, names resolved as Snowflake does (unquoted upper-case)."""
    name, _, path = reference.removeprefix("@").partition("/")
    db, sc, st = stage.parts_from_var(name, current_database=database, current_schema=schema)
    return Path(stage.internal_dir(f"{db}.{sc}.{st}", path))


_GET = re.compile(
    r"^\s*GET\s+(?P<stage>'@[^']+'|@\S+)\s+(?P<local>'file://[^']+'|file://\S+)(?P<options>.*?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_PARALLEL = re.compile(r"\bPARALLEL\s*=\s*(\d+)", re.IGNORECASE)
_PATTERN = re.compile(r"\bPATTERN\s*=\s*'((?:[^'\\]|\\.)*)'", re.IGNORECASE)


def download_command(text: str, database: str | None, schema: str | None) -> dict[str, Any] | None:
    """What the server answers a ``GET @stage[/path] 'file://folder' [PARALLEL=n] [PATTERN='re']`` with (docs:
    sql/get), or None when ``text`` is no GET: fakesnow has no GET. The connector then copies each named file from
    the stage folder to the local folder itself (snowflake/connector/file_transfer_agent.py ``_parse_command``,
    command DOWNLOAD, and local_storage_client.py ``download_chunk`` for a LOCAL_FS stage)."""
    match = _GET.match(text)
    if match is None:
        return None
    reference = match["stage"].strip("'")
    name, _, path = reference.removeprefix("@").partition("/")
    db, sc, st = stage.parts_from_var(name, current_database=database, current_schema=schema)
    root = Path(stage.internal_dir(f"{db}.{sc}.{st}"))
    pattern = (found := _PATTERN.search(match["options"])) and re.compile(found[1])
    files = sorted(
        f.relative_to(root).as_posix()
        for f in (root.rglob("*") if root.is_dir() else ())
        if f.is_file()
        and f.relative_to(root).as_posix().startswith(path)
        and (not pattern or pattern.fullmatch(f.relative_to(root).as_posix()))
    )
    parallel = (found := _PARALLEL.search(match["options"])) and int(found[1])
    return {
        "command": "DOWNLOAD",
        "src_locations": files,
        "stageInfo": {"locationType": "LOCAL_FS", "location": str(root), "creds": {}},
        "localLocation": url2pathname(urlparse(match["local"].strip("'")).path),
        "parallel": parallel or 10,
        "encryptionMaterial": [],
    }
