"""Internal stages: where a stage reference's files are, and the statements fakesnow has none of (GET, REMOVE).

A stage's files live in its account's home, ``<home>/files/stages/<DATABASE>/<SCHEMA>/<STAGE>/``
(account/objects.py ``stage_path``), so they survive the account's restarts and no other account sees them.
fakesnow keeps every internal stage of the process in ONE temporary folder, ``LOCAL_BUCKET_PATH``
(fakesnow/transforms/stage.py), read by ``internal_dir``, ``is_internal``, ``internal_files_sql`` and
``internal_file_name`` there and by fakesnow/server.py ``gcs_stage_info`` and ``_write_bucket_file``; patches.py
replaces those with the functions below, which read the account of the request being served (``serving``; the
account's SQL server sets it around each request). Outside any account's request, fakesnow's folder is kept.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from glob import escape as glob_escape
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlparse
from urllib.request import url2pathname

import snowflake.connector.errors
from fakesnow.transforms import stage
from sqlglot import exp

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import stage_path, stages_root

if TYPE_CHECKING:
    from starlette.requests import Request

    from adapters.simulator.sql.statements import Statement

_SERVING: ContextVar[LocalAccount | None] = ContextVar("serving", default=None)
_FAKESNOW_BUCKET = stage.LOCAL_BUCKET_PATH


@contextlib.contextmanager
def serving(account: LocalAccount) -> Iterator[None]:
    """Stage files of what runs inside the block (a request of ``account``'s server) are that account's."""
    token = _SERVING.set(account)
    try:
        yield
    finally:
        _SERVING.reset(token)


def bucket() -> str:
    """The folder holding every internal stage: the served account's stages, else fakesnow's own folder."""
    account = _SERVING.get()
    return _FAKESNOW_BUCKET if account is None else str(stages_root(account))


def _stage_root(catalog: str, schema: str, stage_name: str) -> str:
    account = _SERVING.get()
    if account is None:
        return f"{_FAKESNOW_BUCKET}/{catalog}/{schema}/{stage_name}/"
    return f"{stage_path(account, catalog, schema, stage_name)}{os.sep}"


def internal_dir(fqname: str, path: str = "") -> str:
    """fakesnow/transforms/stage.py ``internal_dir`` in the served account's stage folder: a folder within the
    stage, refusing paths that leave it with fakesnow's error."""
    catalog, schema, stage_name = fqname.split(".")
    root = _stage_root(catalog, schema, stage_name)
    directory = f"{root}{path}"
    if not PurePath(os.path.realpath(directory)).is_relative_to(os.path.realpath(root)):
        error_details = f"HTTPError('403 Client Error: Forbidden for url: {directory}')"
        raise snowflake.connector.errors.OperationalError(
            msg=(
                f"While putting file(s) there was an error: '{error_details}', "
                "this might be caused by your access to the blob storage provider, or by Snowflake."
            ),
            errno=253003,
        )
    return directory


def is_internal(s: str) -> bool:
    """fakesnow/transforms/stage.py ``is_internal``: whether path ``s`` is in an internal stage."""
    return PurePath(s).is_relative_to(bucket())


def _stage_parts(path: str) -> tuple[str, ...]:
    """``(DATABASE, SCHEMA, STAGE, *file parts)`` of a path in the bucket, names decoded (folders.path_segment)."""
    catalog, schema, stage_name, *rest = PurePath(path).relative_to(bucket()).parts
    if _SERVING.get() is None:
        return catalog, schema, stage_name, *rest
    return unquote(catalog), unquote(schema), unquote(stage_name), *rest


def internal_files_sql(prefix: str) -> str:
    """fakesnow/transforms/stage.py ``internal_files_sql``: the stage's files starting with ``prefix``."""
    catalog, schema, stage_name, *_ = _stage_parts(prefix)
    root = internal_dir(f"{catalog}.{schema}.{stage_name}")
    glob = exp.Literal.string(f"{glob_escape(root)}**/*").sql(dialect="duckdb")
    literal_prefix = exp.Literal.string(prefix).sql(dialect="duckdb")
    return f"SELECT file FROM glob({glob}) WHERE starts_with(file, {literal_prefix})"


def internal_file_name(path: str) -> str:
    """fakesnow/transforms/stage.py ``internal_file_name``: the name Snowflake shows for a staged file (LIST's)."""
    _, _, stage_name, *file_parts = _stage_parts(path)
    prefix = "" if stage.is_table_stage(stage_name) else f"{stage_name.lower()}/"
    return f"{prefix}{'/'.join(file_parts)}"


def gcs_stage_info(
    request: Request, expr: exp.Expr, put_stage_data: stage.UploadCommandDict
) -> dict[str, Any]:
    """fakesnow/server.py ``gcs_stage_info`` relative to the served account's stages: the presigned URL the
    connector uploads a PUT's file to (this server's ``/fs_bucket`` route, ``write_bucket_file``)."""
    stage_dir = put_stage_data["stageInfo"]["location"]
    dst = os.path.basename(put_stage_data["src_locations"][0])
    path = quote(os.path.relpath(os.path.join(stage_dir, dst), bucket()))
    return {
        "locationType": "GCS",
        "location": f"{expr.args['put_stage_name']}/",
        "creds": {},
        "presignedUrl": f"{request.url.scheme}://{request.url.netloc}/fs_bucket/{path}",
    }


def write_bucket_file(path: str, body: bytes) -> str | None:
    """fakesnow/server.py ``_write_bucket_file`` in the served account's stages: the file written, or None when
    ``path`` leaves them."""
    root = bucket()
    target = os.path.normpath(os.path.join(root, path))
    if not target.startswith(root + os.sep):
        return None
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(body)
    return target


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


def staged_files(
    reference: str, options: str, database: str | None, schema: str | None
) -> tuple[Path, list[str]]:
    """The stage folder of ``@stage[/path]`` and its files under ``path`` (stage-relative, sorted), kept to those
    that ``PATTERN='re'`` in ``options`` matches whole."""
    name, _, path = reference.removeprefix("@").partition("/")
    db, sc, st = stage.parts_from_var(name, current_database=database, current_schema=schema)
    root = Path(stage.internal_dir(f"{db}.{sc}.{st}"))
    pattern = (found := _PATTERN.search(options)) and re.compile(found[1])
    files = sorted(
        f.relative_to(root).as_posix()
        for f in (root.rglob("*") if root.is_dir() else ())
        if f.is_file()
        and f.relative_to(root).as_posix().startswith(path)
        and (not pattern or pattern.fullmatch(f.relative_to(root).as_posix()))
    )
    return root, files


def download_command(text: str, database: str | None, schema: str | None) -> dict[str, Any] | None:
    """What the server answers a ``GET @stage[/path] 'file://folder' [PARALLEL=n] [PATTERN='re']`` with (docs:
    sql/get), or None when ``text`` is no GET: fakesnow has no GET. The connector then copies each named file from
    the stage folder to the local folder itself (snowflake/connector/file_transfer_agent.py ``_parse_command``,
    command DOWNLOAD, and local_storage_client.py ``download_chunk`` for a LOCAL_FS stage)."""
    match = _GET.match(text)
    if match is None:
        return None
    root, files = staged_files(match["stage"].strip("'"), match["options"], database, schema)
    parallel = (found := _PARALLEL.search(match["options"])) and int(found[1])
    return {
        "command": "DOWNLOAD",
        "src_locations": files,
        "stageInfo": {"locationType": "LOCAL_FS", "location": str(root), "creds": {}},
        "localLocation": url2pathname(urlparse(match["local"].strip("'")).path),
        "parallel": parallel or 10,
        "encryptionMaterial": [],
    }


_REMOVED = exp.Literal.string("removed").as_("result", quoted=True)
_REMOVE = re.compile(
    r"^\s*(?:REMOVE|RM)\s+(?P<stage>'@[^']+'|@\S+)(?P<options>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL
)


def remove_files(statement: Statement) -> str | None:
    """``REMOVE @stage[/path] [PATTERN='re']`` (alias ``RM``; docs: sql/remove), which fakesnow cannot parse: deletes
    the stage's files under ``path`` that the pattern matches whole, and answers Snowflake's rows, one per file
    removed: ``name`` as LIST shows it (``stage/path/file``) and ``result`` ``removed``."""
    match = _REMOVE.match(statement.text)
    if match is None:
        return None
    root, files = staged_files(
        match["stage"].strip("'"), match["options"], statement.database, statement.schema
    )
    names = []
    for file in files:
        (root / file).unlink(missing_ok=True)  # another session may have removed it meanwhile
        names.append(stage.internal_file_name(str(root / file)))
    # Snowflake's columns even when nothing was removed: a typed row filtered out
    rows = [exp.select(exp.Literal.string(n).as_("name", quoted=True), _REMOVED) for n in names] or [
        exp.select(exp.Literal.string("").as_("name", quoted=True), _REMOVED).where("false")
    ]
    return (exp.union(*rows, distinct=False) if len(rows) > 1 else rows[0]).sql(dialect="snowflake")
