"""Stages outlive the process that made them: a stage is an object of its schema until it is dropped (docs:
sql/create-stage), so a graph run after the home was reopened finds the stage another graph's task created.

fakesnow keeps stage definitions in its global catalog ``_fs_global`` (fakesnow/transforms/stage.py
``create_stage``, ``_fs_stages``), which it attaches in memory (fakesnow/instance.py ``FakeSnow.__init__``); the
simulator attaches it from ``<home>/databases/_fs_global.db`` (account/home.py ``LocalAccount.ensure_fakesnow``).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from snowflake.snowpark import Session

from adapters.simulator import LocalDAGOperation
from tests.snowpark_in_tasks.test_dataframes_in_tasks import run_task


def test_a_stage_created_by_a_task_is_listed_and_read_after_the_home_is_reopened(tmp_path: Path) -> None:
    home = tmp_path / "home"

    def make(s: Session) -> None:
        s.sql("create database if not exists LANDING").collect()
        s.sql("create schema if not exists LANDING.RAW").collect()
        s.sql("create stage LANDING.RAW.INBOX").collect()
        s.file.put_stream(io.BytesIO(b"1,a\n"), "@LANDING.RAW.INBOX/day1/loans.csv", auto_compress=False)

    def read(s: Session) -> tuple[list[str], list[tuple[str, str, str]], bytes]:
        listed = [r.name for r in s.sql("list @LANDING.RAW.INBOX").collect()]
        shown = [
            (r.name, r.database_name, r.schema_name)
            for r in s.sql("show stages in schema LANDING.RAW").collect()
        ]
        with tempfile.TemporaryDirectory() as folder:
            s.file.get("@LANDING.RAW.INBOX/day1/loans.csv", folder)
            data = (Path(folder) / "loans.csv").read_bytes()
        return listed, shown, data

    with LocalDAGOperation(home) as before:
        run_task(before, make, "makes_the_stage")
    with LocalDAGOperation(home) as after:  # a new LocalAccount on the same home
        assert run_task(after, read, "reads_the_stage") == (
            ["inbox/day1/loans.csv"],
            [("INBOX", "LANDING", "RAW")],
            b"1,a\n",
        )


def test_a_temporary_stage_ends_with_the_process_that_made_it(tmp_path: Path) -> None:
    # docs (sql/create-stage, TEMPORARY): dropped at the end of the session in which it was created
    home = tmp_path / "home"
    with LocalDAGOperation(home) as before:
        run_task(before, lambda s: s.sql("create temporary stage SCRATCH").collect(), "makes_it")
    with LocalDAGOperation(home) as after:
        shown = run_task(after, lambda s: [r.name for r in s.sql("show stages").collect()], "looks")
    assert "SCRATCH" not in shown
