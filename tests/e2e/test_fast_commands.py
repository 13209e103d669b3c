"""Read-only commands answer in about a second: they never load the vendor libraries that take seconds to import.

``snowflake.core`` loads its generated REST models at import (~5 s on 2 cores), Snowpark and snowflake.ml take
seconds too, and XGBoost with pyarrow's dataset layer another second; listing runs, models or the graph on a
simulator home needs none of them. Each command runs in a fresh interpreter, so nothing imported by another
test can hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# What a read-only command must not import (module name prefixes).
HEAVY = ("snowflake.core", "snowflake.ml", "snowflake.snowpark", "snowflake.connector", "fakesnow", "xgboost")

_PROBE = """
import json, sys
from app.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in {heavy!r}))
print(json.dumps({{"exit": code, "heavy": loaded[:5]}}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["runs"],
        ["runs", "--format", "json"],
        ["models"],
        ["models", "--format", "json"],
        ["graph"],
        ["graph", "--format", "mermaid"],
    ],
    ids=" ".join,
)
def test_a_read_only_command_imports_no_snowflake_library_nor_xgboost(
    promoted_home: Path, argv: list[str]
) -> None:
    # promoted_home has a deployed graph, one finished run and a registered model: every read path has data.
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), "--home", str(promoted_home), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,  # the probe's own line reports the exit code
    )

    probe = json.loads(result.stderr.strip().splitlines()[-1])
    assert probe == {"exit": 0, "heavy": []}, result.stderr
