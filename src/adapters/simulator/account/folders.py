"""The one identifier -> folder encoding, and the files area's layout; free of DuckDB so job workers can import it.

Quoted identifiers may hold ``/``, ``.``, spaces or any character, or be ``..``; every folder or file name built
from a name goes through ``path_segment`` so a name can never leave its folder, and every module builds the same
folder for the same name. The encoding is ``urllib.parse.quote`` of the UTF-8 bytes (``%`` itself is encoded, so
two names never share a folder); unquoted Snowflake names (``A-Z``, ``0-9``, ``_``, ``$``) are kept as they are.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)


def path_segment(part: str) -> str:
    """A folder name for an identifier: quoted names may hold ``/`` or be ``..``, so those are %-encoded."""
    encoded = quote(part, safe="$_-")
    return encoded.replace(".", "%2E") if set(encoded) <= {"."} else encoded


def remove_tree(folder: Path, owner: str) -> None:
    """Delete a folder whose records are already gone; what cannot be deleted is a warning naming it (the
    records are the truth, so this never fails the caller), and a folder already gone is fine."""

    def warn(_func: Any, path: str, exc_info: Any) -> None:
        if not isinstance(exc_info[1], FileNotFoundError):
            log.warning("could not delete %s of %s: %s; delete it by hand", path, owner, exc_info[1])

    shutil.rmtree(folder, onerror=warn)


def dataset_dir(files_root: Path, name: str, version: str) -> Path:
    """Where a dataset version's Parquet files live: the feature store writes them, training workers read them."""
    return Path(files_root) / "datasets" / path_segment(name) / path_segment(version)
