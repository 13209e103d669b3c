"""Snowflake Scripting in tasks: a task's definition may be "procedural logic using Snowflake Scripting"
(docs: sql/create-task, ``sql``). Each test runs SQL tasks of a graph whose definitions are blocks and states one
rule, citing its page under https://docs.snowflake.com/en/developer-guide/snowflake-scripting/."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session

from adapters.simulator import LocalDAGOperation


@pytest.fixture(scope="module")
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


_graphs = itertools.count()


def run(op: LocalDAGOperation, *definitions: Any) -> tuple[str, dict[str, Any], str | None]:
    """Run the definitions as a chain of tasks T0, T1 …; the graph's state, each task's return value, first error."""
    with DAG(f"scripting_{next(_graphs)}", use_func_return_value=True) as dag:
        previous = None
        for i, definition in enumerate(definitions):
            task = DAGTask(f"t{i}", definition)
            if previous is not None:
                previous >> task
            previous = task
    op.deploy(dag)
    result = op.run(dag)
    values = {r.name.split("$")[-1]: r.return_value for r in op.task_history(dag)}
    return result.state, values, result.first_error_message


def returned(op: LocalDAGOperation, block: str) -> Any:
    """The return value a one-task graph sets from inside its block."""
    state, values, error = run(op, block)
    assert state == "SUCCEEDED", error
    return values["T0"]


def test_a_task_defined_as_a_block_runs_its_statements_as_one_definition(op: LocalDAGOperation) -> None:
    # blocks: "A simple block only requires the keywords BEGIN and END"; its objects outlive the block
    state, _, error = run(
        op,
        "BEGIN CREATE OR REPLACE TABLE EMPLOYEE (ID INT); INSERT INTO EMPLOYEE VALUES (1), (2); END;",
        "select count(*) from EMPLOYEE",
    )
    with op.account.cursor() as cur:
        rows = cur.execute("select count(*) from SIMULATOR.PUBLIC.EMPLOYEE").fetchone()
    assert (state, rows) == ("SUCCEEDED", (2,)), error


def test_declared_variables_and_assignments_compute_the_documented_area(op: LocalDAGOperation) -> None:
    # blocks: the DECLARE example; variables: a FLOAT variable assigned with :=
    block = """DECLARE
      radius_of_circle FLOAT;
      area_of_circle FLOAT;
    BEGIN
      radius_of_circle := 3;
      area_of_circle := pi() * radius_of_circle * radius_of_circle;
      CALL SYSTEM$SET_RETURN_VALUE(:area_of_circle);
    END;"""
    assert float(returned(op, block)) == pytest.approx(28.274333882308138)


def test_a_block_run_as_a_statement_returns_one_row_named_anonymous_block(op: LocalDAGOperation) -> None:
    # blocks, "Output": the value of RETURN in a column named "anonymous block"
    def task(session: Session) -> str:
        row = session.sql("BEGIN LET x INT := 40; RETURN x + 2; END").collect()[0]
        return str(row.as_dict())

    assert returned(op, task) == "{'anonymous block': 42}"


def test_a_block_without_return_returns_null(op: LocalDAGOperation) -> None:
    # return-values: a block that returns nothing returns NULL
    def task(session: Session) -> str:
        return str(session.sql("BEGIN SELECT 1; END").collect()[0][0])

    assert returned(op, task) == "None"


def test_execute_immediate_of_a_dollar_quoted_block_runs_the_block(op: LocalDAGOperation) -> None:
    # running-examples: clients that split statements on ';' send the block as EXECUTE IMMEDIATE $$…$$
    block = "EXECUTE IMMEDIATE $$ BEGIN LET s VARCHAR := 'from ' || 'the block'; CALL SYSTEM$SET_RETURN_VALUE(:s); END; $$"
    assert returned(op, block) == "from the block"


def test_if_elseif_else_runs_the_first_branch_whose_condition_is_true(op: LocalDAGOperation) -> None:
    # branch: IF … ELSEIF … ELSE … END IF
    block = """BEGIN LET n INT := 5; LET s VARCHAR;
      IF (n < 3) THEN s := 'small'; ELSEIF (n < 10) THEN s := 'medium'; ELSE s := 'large'; END IF;
      CALL SYSTEM$SET_RETURN_VALUE(:s); END"""
    assert returned(op, block) == "medium"


@pytest.mark.parametrize(
    "case",
    [
        "CASE (n) WHEN 1 THEN s := 'one'; WHEN 5 THEN s := 'five'; ELSE s := 'other'; END CASE;",
        "CASE WHEN n < 3 THEN s := 'small'; WHEN n < 10 THEN s := 'five'; ELSE s := 'large'; END;",
    ],
    ids=["simple", "searched"],
)
def test_a_case_statement_runs_the_branch_its_value_selects(op: LocalDAGOperation, case: str) -> None:
    # branch: CASE (expr) WHEN value THEN …; CASE WHEN condition THEN …; ELSE; END [CASE]
    block = f"BEGIN LET n INT := 5; LET s VARCHAR; {case} CALL SYSTEM$SET_RETURN_VALUE(:s); END"
    assert returned(op, block) == "five"


def test_a_range_for_loop_counts_inclusively_and_continue_skips_an_iteration(op: LocalDAGOperation) -> None:
    # loops: FOR i IN [REVERSE] start TO end DO … END FOR (both bounds included); CONTINUE
    block = """BEGIN LET s VARCHAR := '';
      FOR i IN REVERSE 1 TO 4 DO IF (i = 2) THEN CONTINUE; END IF; s := s || i; END FOR;
      CALL SYSTEM$SET_RETURN_VALUE(:s); END"""
    assert returned(op, block) == "431"


def test_a_cursor_for_loop_reads_each_rows_columns(op: LocalDAGOperation) -> None:
    # cursors: DECLARE c CURSOR FOR query; FOR record IN c DO … record.column … END FOR
    block = """DECLARE total INT DEFAULT 0; c CURSOR FOR SELECT PRICE FROM (VALUES (10), (20), (12)) AS T(PRICE);
    BEGIN FOR record IN c DO total := total + record.price; END FOR;
      CALL SYSTEM$SET_RETURN_VALUE(:total); END"""
    assert returned(op, block) == "42"


def test_fetch_steps_through_an_open_cursor_and_gives_nulls_after_the_last_row(op: LocalDAGOperation) -> None:
    # cursors: OPEN c; FETCH c INTO v; CLOSE c (sql-reference/snowflake-scripting/fetch: NULL after the last row)
    block = """DECLARE a INT; b INT; c CURSOR FOR SELECT X FROM (VALUES (1), (2)) AS T(X) ORDER BY X;
    BEGIN OPEN c; FETCH c INTO a; FETCH c INTO b; FETCH c INTO a; CLOSE c;
      CALL SYSTEM$SET_RETURN_VALUE(COALESCE(TO_VARCHAR(a), 'null') || ',' || b); END"""
    assert returned(op, block) == "null,2"


def test_while_and_loop_with_break_repeat_until_their_end(op: LocalDAGOperation) -> None:
    # loops: WHILE (cond) DO … END WHILE; LOOP … BREAK … END LOOP
    block = """BEGIN LET a INT := 0; LET b INT := 0;
      WHILE (a < 3) DO a := a + 1; END WHILE;
      LOOP b := b + 10; IF (b >= 30) THEN BREAK; END IF; END LOOP;
      CALL SYSTEM$SET_RETURN_VALUE(:a || ',' || :b); END"""
    assert returned(op, block) == "3,30"


def test_bind_variables_and_identifier_name_the_table_a_statement_writes(op: LocalDAGOperation) -> None:
    # variables, "Using a variable in a SQL statement": :name binds a value, IDENTIFIER(:name) an object name
    block = """BEGIN LET t VARCHAR := 'BOUND_TARGET'; LET v INT := 7;
      CREATE OR REPLACE TABLE IDENTIFIER(:t) (V INT);
      INSERT INTO IDENTIFIER(:t) VALUES (:v), (:v * 2);
      LET total INT := (SELECT SUM(V) FROM BOUND_TARGET);
      CALL SYSTEM$SET_RETURN_VALUE(:total); END"""
    assert returned(op, block) == "21"


def test_sqlrowcount_is_the_last_dml_count_and_null_after_a_query(op: LocalDAGOperation) -> None:
    # dml-status: SQLROWCOUNT/SQLFOUND after DML; NULL after a non-DML statement (2025_01 bundle, the default)
    block = """BEGIN CREATE OR REPLACE TABLE MY_VALUES (VALUE NUMBER);
      INSERT INTO MY_VALUES VALUES (1), (2), (3);
      LET counted VARCHAR := SQLROWCOUNT || ' ' || SQLFOUND;
      SELECT * FROM MY_VALUES;
      CALL SYSTEM$SET_RETURN_VALUE(:counted || ' ' || COALESCE(TO_VARCHAR(SQLROWCOUNT), 'null')); END"""
    assert returned(op, block) == "3 true null"


def test_select_into_assigns_the_first_rows_values_to_variables(op: LocalDAGOperation) -> None:
    # querying: SELECT … INTO :v1, :v2 FROM …
    block = """BEGIN LET n INT; LET s VARCHAR;
      SELECT COUNT(*), MAX(X) INTO :n, :s FROM (VALUES ('a'), ('b')) AS T(X);
      CALL SYSTEM$SET_RETURN_VALUE(:n || :s); END"""
    assert returned(op, block) == "2b"


def test_a_statement_error_is_caught_by_its_handler_with_sqlcode_and_sqlerrm(op: LocalDAGOperation) -> None:
    # exceptions: WHEN STATEMENT_ERROR THEN …; SQLCODE and SQLERRM describe the error
    block = """BEGIN SELECT * FROM NO_SUCH_TABLE;
    EXCEPTION WHEN STATEMENT_ERROR THEN
      CALL SYSTEM$SET_RETURN_VALUE('caught ' || (SQLCODE <> 0) || ' ' || CONTAINS(SQLERRM, 'NO_SUCH_TABLE'));
    END"""
    assert returned(op, block) == "caught true true"


def test_an_uncaught_declared_exception_fails_the_task_with_its_code_and_message(
    op: LocalDAGOperation,
) -> None:
    # exceptions: DECLARE e EXCEPTION (-20002, '…'); RAISE e; uncaught, it is the statement's error
    state, _, error = run(
        op, "DECLARE my_exception EXCEPTION (-20002, 'Raised MY_EXCEPTION.'); BEGIN RAISE my_exception; END"
    )
    assert state == "FAILED"
    assert "Uncaught exception of type 'MY_EXCEPTION'" in (error or "")
    assert "Raised MY_EXCEPTION." in (error or "")


def test_when_other_catches_a_raised_exception_and_raise_rethrows_it(op: LocalDAGOperation) -> None:
    # exceptions: WHEN OTHER matches any exception; a bare RAISE in a handler re-raises it to the outer block
    block = """DECLARE e EXCEPTION (-20001, 'inner'); BEGIN
      BEGIN RAISE e; EXCEPTION WHEN OTHER THEN RAISE; END;
    EXCEPTION WHEN e THEN CALL SYSTEM$SET_RETURN_VALUE('outer caught ' || SQLCODE || ' ' || SQLERRM); END"""
    assert returned(op, block) == "outer caught -20001 inner"


def test_a_nested_blocks_variable_hides_the_outer_one_only_inside_it(op: LocalDAGOperation) -> None:
    # blocks, "Understanding the scope of declarations": the innermost declaration wins, inside its block
    block = """DECLARE v VARCHAR DEFAULT 'outer'; BEGIN
      LET seen VARCHAR;
      DECLARE v VARCHAR DEFAULT 'inner'; BEGIN seen := v; END;
      CALL SYSTEM$SET_RETURN_VALUE(seen || ' ' || v); END"""
    assert returned(op, block) == "inner outer"


def test_return_table_of_a_resultset_returns_its_rows(op: LocalDAGOperation) -> None:
    # resultsets: LET rs RESULTSET := (query); RETURN TABLE(rs)
    def task(session: Session) -> str:
        block = "BEGIN LET rs RESULTSET := (SELECT X * 2 AS Y FROM (VALUES (1), (2)) AS T(X) ORDER BY 1); RETURN TABLE(rs); END"
        return str([r.as_dict() for r in session.sql(block).collect()])

    assert returned(op, task) == "[{'Y': 2}, {'Y': 4}]"


def test_execute_immediate_of_a_variable_runs_dynamic_sql(op: LocalDAGOperation) -> None:
    # dynamic-sql: EXECUTE IMMEDIATE of a string built at run time
    block = """BEGIN LET stmt VARCHAR := 'CREATE OR REPLACE TABLE DYNAMIC_T AS SELECT 5 AS V';
      EXECUTE IMMEDIATE stmt;
      LET v INT := (SELECT V FROM DYNAMIC_T); CALL SYSTEM$SET_RETURN_VALUE(:v); END"""
    assert returned(op, block) == "5"


def test_a_sql_procedure_runs_its_block_with_its_arguments_on_call(op: LocalDAGOperation) -> None:
    # stored procedures in Snowflake Scripting (developer-guide/stored-procedure/stored-procedures-snowflake-
    # scripting): arguments are variables of the block; CALL returns one row named after the procedure
    create = """CREATE OR REPLACE PROCEDURE AREA(RADIUS FLOAT, LABEL VARCHAR) RETURNS VARCHAR LANGUAGE SQL AS $$
    BEGIN RETURN label || ROUND(pi() * radius * radius, 2); END; $$"""

    def call(session: Session) -> str:
        return str(session.sql("CALL AREA(3, 'area ')").collect()[0].as_dict())

    state, values, error = run(op, create, call)
    assert (state, values["T1"]) == ("SUCCEEDED", "{'AREA': 'area 28.27'}"), error


def test_async_fails_as_unsupported_naming_what_snowflake_would_do(op: LocalDAGOperation) -> None:
    # async: ASYNC runs a statement as a child job; the simulator does not, and says so
    state, _, error = run(op, "BEGIN ASYNC (SELECT 1); END")
    assert state == "FAILED"
    assert "Unsupported: ASYNC: on Snowflake" in (error or "")


def test_a_when_other_handler_does_not_hide_an_unsupported_statement(op: LocalDAGOperation) -> None:
    # the simulator's rule: a statement it cannot honour is never swallowed by a handler
    state, _, error = run(
        op, "BEGIN EXECUTE NOTEBOOK MY_NOTEBOOK(); EXCEPTION WHEN OTHER THEN RETURN 'hidden'; END"
    )
    assert state == "FAILED"
    assert "Unsupported" in (error or "")
