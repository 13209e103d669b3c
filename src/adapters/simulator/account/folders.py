"""Folder names for identifiers, kept free of DuckDB so job workers can import it.

Quoted identifiers may hold ``/`` or be ``..``; every folder built from a name goes through ``path_segment``
so a name can never leave its folder, and every module builds the same folder for the same name.
"""

from __future__ import annotations

from urllib.parse import quote


def path_segment(part: str) -> str:
    """A folder name for an identifier: quoted names may hold ``/`` or be ``..``, so those are %-encoded."""
    encoded = quote(part, safe="$_-")
    return encoded.replace(".", "%2E") if set(encoded) <= {"."} else encoded
