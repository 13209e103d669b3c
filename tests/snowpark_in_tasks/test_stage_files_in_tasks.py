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
