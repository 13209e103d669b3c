"""What every command says first (backend and where), ``--version``, and ``-c NAME`` meaning the snowflake backend."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import EXIT_BACKEND, main


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--version"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0 and result.stdout.strip() == "python -m app 0.1.0"


def test_a_command_first_says_backend_and_home_on_stderr_keeping_stdout_its_own(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()

    main(["--home", str(tmp_path / "home"), "graph", "--format", "mermaid"], out=out, err=err)

    assert err.getvalue().splitlines()[0] == f"[simulator backend, home {tmp_path / 'home'}]"
    assert out.getvalue().startswith("flowchart LR\n")  # still valid mermaid, for a pipe


def test_c_name_without_backend_means_the_snowflake_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNOWFLAKE_HOME", str(tmp_path))  # no connections.toml: the session cannot open
    out, err = io.StringIO(), io.StringIO()

    code = main(["-c", "prod", "runs"], out=out, err=err)

    assert err.getvalue().splitlines()[0] == "[snowflake backend, connection prod]"
    assert code == EXIT_BACKEND and "connection 'prod' not found" in err.getvalue()
