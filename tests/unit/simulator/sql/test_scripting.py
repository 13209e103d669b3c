"""The Snowflake Scripting interpreter (sql/scripting.py) over a recording stand-in for the session: what it sends
the session, and which errors its handlers may catch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pytest

from adapters.simulator.sql import scripting
from adapters.simulator.sql.statements import SqlError
from adapters.simulator.sql.taskgraph_sql import Executed


class RecordingSession:
    """Records every statement; expressions are evaluated by DuckDB; ``refuse`` makes statements fail so."""

    def __init__(self, refuse: SqlError | None = None) -> None:
        self.statements: list[str] = []
        self.refuse = refuse

    def run(self, statement: str) -> Executed:
        self.statements.append(statement)
        if self.refuse is not None:
            raise self.refuse
        return Executed([], 1 if statement.upper().startswith("INSERT") else None, "q1")

    def scalar(self, expression: str) -> Any:
        return duckdb.sql(f"select {expression}").fetchall()[0][0]

    def temp_table(self, name: str, columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> None:
        raise AssertionError("not used by these blocks")

    def result_table(self, query_id: str, name: str) -> bool:
        raise AssertionError("not used by these blocks")


def test_bind_variables_reach_the_statement_as_literals() -> None:
    session = RecordingSession()
    scripting.run(
        "BEGIN LET n INT := 2; LET t VARCHAR := 'T'; INSERT INTO IDENTIFIER(:t) VALUES (:n); END", session, {}
    )
    assert session.statements == ["INSERT INTO IDENTIFIER('T') VALUES (2)"]


def test_a_variant_path_is_not_read_as_a_bind_variable() -> None:
    # v:field reads a VARIANT's field (docs: querying-semistructured); only a free-standing :name binds
    session = RecordingSession()
    scripting.run("BEGIN LET field INT := 1; SELECT v:field, :field FROM T; END", session, {})
    assert session.statements == ["SELECT v:field, 1 FROM T"]


def test_a_cancelled_session_is_not_caught_by_when_other() -> None:
    # the session of a timed-out or cancelled task refuses its statements (server.py _Login.statement)
    session = RecordingSession(refuse=SqlError("SQL execution canceled", 604, "57014"))
    with pytest.raises(SqlError, match="canceled"):
        scripting.run("BEGIN SELECT 1; EXCEPTION WHEN OTHER THEN RETURN 'swallowed'; END", session, {})


def test_a_statement_error_is_caught_by_when_other() -> None:
    session = RecordingSession(refuse=SqlError("Table 'X' does not exist", 2003, "42S02"))
    assert scripting.run("BEGIN SELECT 1; EXCEPTION WHEN OTHER THEN RETURN SQLCODE; END", session, {}) == 2003


def test_a_malformed_block_is_a_compilation_error_naming_its_position() -> None:
    with pytest.raises(
        SqlError, match="SQL compilation error: syntax error on line 2 at position 31: expected IF, found ';'"
    ):
        scripting.run("BEGIN\n  IF (1 = 1) THEN SELECT 1; END;\nEND", RecordingSession(), {})


def test_a_transaction_inside_a_block_is_unsupported() -> None:
    with pytest.raises(SqlError, match="Unsupported: COMMIT inside a block: on Snowflake"):
        scripting.run("BEGIN INSERT INTO T VALUES (1); COMMIT; END", RecordingSession(), {})


def test_statements_after_the_blocks_end_are_a_compilation_error_not_ignored() -> None:
    with pytest.raises(
        SqlError, match="syntax error on line 1 at position 21: 'SELECT' after the block's END"
    ):
        scripting.run("BEGIN SELECT 1; END; SELECT 2", RecordingSession(), {})
