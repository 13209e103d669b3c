"""Result rows as plain dicts: a Snowpark ``Row`` (or a mapping) keyed by its column names in one case.

SHOW output names its columns in lower case (``name``, ``max_nodes``), INFORMATION_SCHEMA views and table
functions in upper case (``RUN_ID``, ``STATE``); each reader picks the case of what it reads, so a stand-in
row spelled either way reads the same.
"""

from __future__ import annotations

from typing import Any, Literal


def row_dict(row: Any, case: Literal["lower", "upper"]) -> dict[str, Any]:
    data = row.as_dict() if hasattr(row, "as_dict") else dict(row)
    keys = (str(k).strip('"') for k in data)
    return {
        (k.lower() if case == "lower" else k.upper()): v for k, v in zip(keys, data.values(), strict=True)
    }
