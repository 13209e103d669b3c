"""``INFORMATION_SCHEMA.TABLES`` has the table's real ``CREATED`` and ``LAST_ALTERED``: LAST_ALTERED is "the last time
the table was altered by a DDL or DML operation" and CREATED when it was created (docs:
https://docs.snowflake.com/en/sql-reference/info-schema/tables). fakesnow's view reads 1970 for both
(fakesnow/info_schema.py ``SQL_CREATE_INFORMATION_SCHEMA_TABLES_VIEW``); the simulator keeps the times
(adapters/simulator/sql/table_times.py)."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

from snowflake.snowpark import Session
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.simulator import LocalDAGOperation
from tests.snowpark_in_tasks.test_dataframes_in_tasks import op, run_task

__all__ = ["op"]  # the fixture

PAUSE = 0.05  # long enough for the clock to move between two statements


def _times(s: Session, name: str) -> tuple[datetime, datetime]:
    row = s.sql(
        "select CREATED, LAST_ALTERED from information_schema.tables where TABLE_SCHEMA = 'PUBLIC' "
        f"and TABLE_NAME = '{name}'"
    ).collect()[0]
    return row["CREATED"], row["LAST_ALTERED"]


def test_last_altered_moves_on_insert(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        s.sql("create table GROWING (X int)").collect()
        made = _times(s, "GROWING")
        time.sleep(PAUSE)
        s.sql("insert into GROWING values (1)").collect()
        return made, _times(s, "GROWING")

    (created, first), (created_after, second) = run_task(op, body)
    assert created.year > 1970 and first == created
    assert second > first and created_after == created  # CREATED stays


def test_last_altered_stays_on_select(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        s.sql("create table READ_ONLY (X int)").collect()
        before = _times(s, "READ_ONLY")
        time.sleep(PAUSE)
        s.sql("select * from READ_ONLY").collect()
        s.table("READ_ONLY").count()
        return before, _times(s, "READ_ONLY")

    before, after = run_task(op, body)
    assert after == before


def test_a_quoted_lower_case_table_has_its_own_times(op: LocalDAGOperation) -> None:
    def body(s: Session) -> list[tuple[str, int]]:
        s.sql('create table "mixedCase" (X int)').collect()
        s.sql('insert into "mixedCase" values (1)').collect()
        rows = s.sql(
            "select TABLE_NAME, year(LAST_ALTERED) as Y from information_schema.tables "
            "where TABLE_NAME in ('mixedCase', 'MIXEDCASE')"
        ).collect()
        return [(r["TABLE_NAME"], r["Y"]) for r in rows]

    [(name, year)] = run_task(op, body)
    assert name == "mixedCase" and year > 1970


def test_save_as_table_sets_the_times_and_append_moves_last_altered(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        frame = s.create_dataframe([[1, "a"]], schema=["ID", "NAME"])
        frame.write.save_as_table("SAVED", mode="overwrite")
        made = _times(s, "SAVED")
        time.sleep(PAUSE)
        frame.write.save_as_table("SAVED", mode="append")
        return made, _times(s, "SAVED")

    (created, first), (created_after, second) = run_task(op, body)
    assert created.year > 1970
    assert second > first and created_after == created


def test_a_failed_insert_leaves_last_altered_as_it_was(op: LocalDAGOperation) -> None:
    def body(s: Session) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        s.sql("create table STRICT_ONE (X int not null)").collect()
        before = _times(s, "STRICT_ONE")
        time.sleep(PAUSE)
        with contextlib.suppress(SnowparkSQLException):  # a value that is not a number fails while it runs
            s.sql("insert into STRICT_ONE values ('not a number')").collect()
        return before, _times(s, "STRICT_ONE")

    before, after = run_task(op, body)
    assert after == before


def test_the_source_table_setup_loads_has_its_load_time_as_last_altered() -> None:
    # the pipeline's data version is this time (feature_store/source_tables.py TableInfo.version)
    from adapters.simulator.feature_store.data_generator import generate_mortgage_data
    from adapters.simulator.feature_store.source_tables import describe_table, load_source_table

    with LocalDAGOperation() as operation:
        loaded = load_source_table(operation.account, "LOANS_SOURCE", generate_mortgage_data(50, seed=3))
        seen = run_task(
            operation,
            lambda s: s.sql(
                "select LAST_ALTERED from SNOWBANK.INFORMATION_SCHEMA.TABLES where TABLE_NAME = 'LOANS_SOURCE'"
            ).collect()[0][0],
        )
        described = describe_table(operation.account, "LOANS_SOURCE")
    assert seen.replace(tzinfo=None) == loaded.last_altered == described.last_altered
