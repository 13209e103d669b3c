"""What the CLI's end-to-end tests share: simulator homes set up once for the whole folder — one after ``setup``,
one after a first successful ``deploy --run`` — and a copy of one for each test (setting up takes seconds and a
graph run several more; copying a home takes milliseconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.commands import cli
from tests.e2e.homes import ROWS


@pytest.fixture(scope="session")
def prepared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    code, out, err = cli(home, "setup", "--rows", ROWS, "--seed", "7")
    assert code == 0, out + err
    return home


@pytest.fixture(scope="session")
def promoted_template(prepared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("promoted") / "home"
    shutil.copytree(prepared_home, home)
    code, out, err = cli(home, "deploy", "--run")
    assert code == 0 and "Branch chosen: promote_model" in out, out + err
    return home


@pytest.fixture
def home(prepared_home: Path, tmp_path: Path) -> Path:
    """A set-up home: source data, feature store and notification integration, nothing deployed."""
    copy = tmp_path / "home"
    shutil.copytree(prepared_home, copy)
    return copy


@pytest.fixture
def promoted_home(promoted_template: Path, tmp_path: Path) -> Path:
    """A set-up home after one ``deploy --run`` that SUCCEEDED and made its model version the default."""
    copy = tmp_path / "home"
    shutil.copytree(promoted_template, copy)
    return copy
