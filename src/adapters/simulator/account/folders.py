"""The one identifier -> folder encoding, and the files area's layout; free of DuckDB so job workers can import it.

Quoted identifiers may hold ``/``, ``.``, spaces or any character, or be ``..``; every folder or file name built
from a name goes through ``path_segment`` so a name can never leave its folder, and every module builds the same
folder for the same name. The encoding is ``urllib.parse.quote`` of the UTF-8 bytes (``%`` itself is encoded, so
two names never share a folder); unquoted Snowflake names (``A-Z``, ``0-9``, ``_``, ``$``) are kept as they are.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote


def path_segment(part: str) -> str:
    """A folder name for an identifier: quoted names may hold ``/`` or be ``..``, so those are %-encoded."""
    encoded = quote(part, safe="$_-")
    return encoded.replace(".", "%2E") if set(encoded) <= {"."} else encoded


def dataset_dir(files_root: Path, name: str, version: str) -> Path:
    """Where a dataset version's Parquet files live: the feature store writes them, training workers read them."""
    return Path(files_root) / "datasets" / path_segment(name) / path_segment(version)
