"""What the CLI's end-to-end tests share: one simulator home set up once for the whole folder, and a copy of it
for each test that changes it (setting up takes seconds; copying a home, milliseconds)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from app.cli import main
from tests.e2e.homes import ROWS


@pytest.fixture(scope="session")
def prepared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    err = io.StringIO()
    assert (
        main(["--home", str(home), "setup", "--rows", ROWS, "--seed", "7"], out=io.StringIO(), err=err) == 0
    ), err.getvalue()
    return home


@pytest.fixture
def home(prepared_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(prepared_home, copy)
    return copy
