"""A public-style task graph whose SQL tasks are Snowflake Scripting blocks, run on the simulator with the outcome
Snowflake documents. Our own code: the shape is the sources', the bodies are written here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from snowflake.core.task.dagv1 import DAG, DAGTask

from adapters.simulator import LocalDAGOperation


@pytest.fixture
def op() -> Iterator[LocalDAGOperation]:
    with LocalDAGOperation() as operation:
        yield operation


def test_the_return_value_example_with_blocks_passes_the_area_to_its_child(op: LocalDAGOperation) -> None:
    # Shape: https://docs.snowflake.com/en/sql-reference/functions/system_set_return_value (Examples: a table
    # return_values; task set_return_value sets its return value; task get_return_value, AFTER it, inserts
    # SYSTEM$GET_PREDECESSOR_RETURN_VALUE() into the table), with each task's definition written as "procedural
    # logic using Snowflake Scripting" (https://docs.snowflake.com/en/sql-reference/sql/create-task, ``sql``):
    # the parent is the area block of https://docs.snowflake.com/en/developer-guide/snowflake-scripting/blocks.
    with DAG("return_values_demo", use_func_return_value=True) as dag:
        parent = DAGTask(
            "set_return_value",
            """EXECUTE IMMEDIATE $$
            DECLARE
              radius_of_circle FLOAT;
              area_of_circle FLOAT;
            BEGIN
              CREATE OR REPLACE TABLE RETURN_VALUES (STR VARCHAR);
              radius_of_circle := 3;
              area_of_circle := pi() * radius_of_circle * radius_of_circle;
              CALL SYSTEM$SET_RETURN_VALUE(TO_VARCHAR(ROUND(:area_of_circle, 2)));
            END;
            $$""",
        )
        child = DAGTask(
            "get_return_value",
            """BEGIN
              LET received VARCHAR := SYSTEM$GET_PREDECESSOR_RETURN_VALUE();
              INSERT INTO RETURN_VALUES VALUES (:received);
              IF (SQLROWCOUNT = 1) THEN
                CALL SYSTEM$SET_RETURN_VALUE('stored ' || :received);
              END IF;
            END;""",
        )
        parent >> child
    op.deploy(dag)
    run = op.run(dag)
    with op.account.cursor() as cur:
        stored = cur.execute("select STR from SIMULATOR.PUBLIC.RETURN_VALUES").fetchall()
    values = {r.name.split("$")[-1]: r.return_value for r in op.task_history(dag)}

    assert run.state == "SUCCEEDED", run.first_error_message
    assert stored == [("28.27",)]
    assert (values["SET_RETURN_VALUE"], values["GET_RETURN_VALUE"]) == ("28.27", "stored 28.27")
