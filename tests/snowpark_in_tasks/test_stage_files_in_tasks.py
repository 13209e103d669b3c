"""Stage files from a task: what ``session.file.put`` stages, ``session.file.get`` / ``get_stream`` read back.

fakesnow has no GET (the server answers it: adapters/simulator/sql/stages.py ``download_command``, after
snowflake/connector/file_transfer_agent.py ``_parse_command``, DOWNLOAD to a LOCAL_FS stage).
"""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path

from snowflake.snowpark import Session

from adapters.simulator import LocalDAGOperation
from tests.snowpark_in_tasks.test_dataframes_in_tasks import op, run_task

__all__ = ["op"]  # the fixture


def test_file_get_downloads_what_put_staged(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[list[tuple[str, str]], bytes]:
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / "loans.csv"
            source.write_text("1,a\n")
            s.sql("create stage GET_BACK").collect()
            s.file.put(str(source), "@GET_BACK/in")
            got = s.file.get("@GET_BACK/in", str(Path(folder) / "out"))
            data = gzip.decompress((Path(folder) / "out" / "loans.csv.gz").read_bytes())
        return [(r.file, r.status) for r in got], data

    assert run_task(op, body) == ([("loans.csv.gz", "DOWNLOADED")], b"1,a\n")


def test_file_get_stream_reads_a_staged_file(op: LocalDAGOperation) -> None:
    def body(s: Session) -> bytes:
        s.sql("create stage STREAMED").collect()
        s.file.put_stream(io.BytesIO(b"payload"), "@STREAMED/p.txt", auto_compress=False)
        return s.file.get_stream("@STREAMED/p.txt").read()

    assert run_task(op, body) == b"payload"


def _put_text(s: Session, stage_path: str, name: str, text: str) -> None:
    s.file.put_stream(io.BytesIO(text.encode()), f"{stage_path}/{name}", auto_compress=False)


def _listed(s: Session, stage: str) -> list[str]:
    return sorted(r.name for r in s.sql(f"list @{stage}").collect())


def test_files_one_account_stages_are_not_seen_by_another() -> None:
    def put(s: Session) -> list[str]:
        s.sql("create stage SHARED_NAME").collect()
        _put_text(s, "@SHARED_NAME", "mine.txt", "a")
        return _listed(s, "SHARED_NAME")

    def look(s: Session) -> list[str]:
        s.sql("create stage SHARED_NAME").collect()
        return _listed(s, "SHARED_NAME")

    with LocalDAGOperation() as first, LocalDAGOperation() as second:
        assert run_task(first, put) == ["shared_name/mine.txt"]
        assert run_task(second, look) == []


def test_staged_files_are_in_the_home_and_survive_reopening_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalDAGOperation(home) as before:
        run_task(
            before, lambda s: (s.sql("create stage KEPT").collect(), _put_text(s, "@KEPT/in", "f.txt", "x"))
        )
    assert (home / "files" / "stages" / "SIMULATOR" / "PUBLIC" / "KEPT" / "in" / "f.txt").read_text() == "x"
    # the definition is kept (test_stages_across_restarts.py); IF NOT EXISTS leaves it and its files as they are
    with LocalDAGOperation(home) as after:
        listed = run_task(
            after,
            lambda s: (s.sql("create stage if not exists KEPT").collect(), _listed(s, "KEPT")),
            "reopened",
        )
    assert listed[1] == ["kept/in/f.txt"]


def test_remove_deletes_the_files_under_a_path() -> None:
    def body(s: Session) -> tuple[list[str], list[str]]:
        s.sql("create stage TIDY").collect()
        for name in ("old/a.txt", "old/b.csv", "new/c.txt"):
            _put_text(s, "@TIDY", name, "x")
        return sorted(s.file.remove("@TIDY/old")), _listed(s, "TIDY")

    with LocalDAGOperation() as op:
        assert run_task(op, body) == (["tidy/old/a.txt", "tidy/old/b.csv"], ["tidy/new/c.txt"])


def test_remove_with_a_pattern_deletes_only_the_files_it_matches() -> None:
    def body(s: Session) -> tuple[list[str], list[str]]:
        s.sql("create stage PICKY").collect()
        for name in ("a.txt", "b.csv"):
            _put_text(s, "@PICKY", name, "x")
        return s.file.remove("@PICKY", pattern=r".*\.csv"), _listed(s, "PICKY")

    with LocalDAGOperation() as op:
        assert run_task(op, body) == (["picky/b.csv"], ["picky/a.txt"])


def test_remove_of_nothing_answers_no_rows() -> None:
    def body(s: Session) -> list[tuple[str, ...]]:
        s.sql("create stage EMPTY_ONE").collect()
        return [tuple(r) for r in s.sql("remove @EMPTY_ONE/none").collect()]

    with LocalDAGOperation() as op:
        assert run_task(op, body) == []
