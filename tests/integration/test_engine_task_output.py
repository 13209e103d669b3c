"""A task's traceback and what its body logged and printed are kept in the run's history, bounded."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation
from adapters.simulator.taskgraph.capture import MAX_LOG_CHARS, captured_output


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def chatty_failure(session: Any) -> None:
    print("loading 42 rows")
    logging.getLogger("pipeline.body").warning("row 7 looks odd")
    raise ValueError("no label column")


def test_a_failed_task_keeps_its_traceback_and_what_it_printed_and_logged(op: LocalDAGOperation) -> None:
    with DAG("out") as dag:
        DAGTask("a", chatty_failure)
    op.deploy(dag)

    op.run(dag)

    (row,) = [h for h in op.task_history(dag) if h.name == "OUT$A"]
    assert row.error_message == "ValueError: no label column"
    assert "Traceback (most recent call last)" in row.error_traceback
    assert "in chatty_failure" in row.error_traceback
    assert "loading 42 rows" in row.log_text
    assert "WARNING pipeline.body: row 7 looks odd" in row.log_text


def test_a_task_keeps_only_its_own_output_not_a_concurrent_tasks(op: LocalDAGOperation) -> None:
    with DAG("two") as dag:
        DAGTask("a", lambda s: print("from a"))
        DAGTask("b", lambda s: print("from b"))
    op.deploy(dag)

    op.run(dag)

    logs = {h.name: h.log_text for h in op.task_history(dag)}
    assert logs["TWO$A"] == "from a\n" and logs["TWO$B"] == "from b\n"


def test_the_sql_task_history_view_keeps_snowflakes_columns(op: LocalDAGOperation) -> None:
    with DAG("cols") as dag:
        DAGTask("a", lambda s: print("x"))
    op.deploy(dag)
    op.run(dag)

    with op.account.cursor() as cur:
        columns = [d[0] for d in cur.execute("select * from TASK_HISTORY limit 0").description]

    assert "LOG_TEXT" not in columns and "ERROR_TRACEBACK" not in columns and "ERROR_MESSAGE" in columns


def test_output_beyond_the_bound_keeps_the_end_and_says_what_was_dropped() -> None:
    with captured_output() as output:
        print("x" * (3 * MAX_LOG_CHARS), end="")
        print("the end")

    assert output.text.startswith(f"[… {3 * MAX_LOG_CHARS + 8 - MAX_LOG_CHARS} earlier characters dropped]")
    assert output.text.endswith("the end\n") and len(output.text) < MAX_LOG_CHARS + 100
