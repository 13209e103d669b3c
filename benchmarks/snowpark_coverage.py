"""Coverage: which Snowpark DataFrame calls run unchanged in a simulator task, as a share of those probed.

One graph task on a temporary account makes each call below on its real ``snowflake.snowpark.Session`` and records
whether it raised; the script prints each failure and the share that ran. It checks that a call runs, not its
result — the tests under ``tests/snowpark_in_tasks/`` state the results. A call Snowflake's own docs show for
DataFrames and that fails here belongs in this list (and then in a test once it works).
Usage: python benchmarks/snowpark_coverage.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import snowflake.snowpark.functions as F
from snowflake.core.task.dagv1 import DAG, DAGTask
from snowflake.snowpark import Session, Window
from snowflake.snowpark.types import IntegerType, StringType, StructField, StructType

from adapters.simulator import LocalDAGOperation


def calls(s: Session) -> dict[str, Callable[[], Any]]:
    t = s.table("LOANS")
    schema = StructType([StructField("A", IntegerType()), StructField("B", StringType())])
    target = s.table("LOANS")
    source = s.table("SRC")
    return {
        "table + collect": t.collect,
        "sql": lambda: s.sql("select 1").collect(),
        "create_dataframe (lists, schema)": lambda: s.create_dataframe([[1, "a"]], schema=schema).collect(),
        "filter / select / sort / limit": lambda: t.filter(F.col("ID") > 1).select("ID").sort("ID").limit(1).collect(),
        "with_column": lambda: t.with_column("DOUBLE", F.col("AMOUNT") * 2).collect(),
        "group_by + agg": lambda: t.group_by("GRP").agg(F.sum("AMOUNT")).collect(),
        "join (inner, left)": lambda: t.join(t.select("ID"), on="ID", how="left").collect(),
        "natural_join": lambda: t.natural_join(t.select("ID", "GRP")).collect(),
        "cross_join": lambda: t.cross_join(t.select(F.col("ID").alias("I2"))).count(),
        "union / union_all": lambda: t.select("GRP").union(t.select("GRP")).union_all(t.select("GRP")).collect(),
        "union_by_name": lambda: t.select("ID", "GRP").union_by_name(t.select("GRP", "ID")).collect(),
        "except_ / intersect": lambda: t.select("GRP").except_(t.select("GRP")).intersect(t.select("GRP")).collect(),
        "distinct": lambda: t.select("GRP").distinct().collect(),
        "rename / with_column_renamed / drop": lambda: t.rename(F.col("GRP"), "G").with_column_renamed("G", "H").drop("H").collect(),
        "fillna / dropna": lambda: t.fillna(0).dropna().collect(),
        "window: row_number, lag, sum over": lambda: t.select(
            F.row_number().over(Window.order_by("ID")),
            F.lag("AMOUNT").over(Window.order_by("ID")),
            F.sum("AMOUNT").over(Window.partition_by("GRP")),
        ).collect(),
        "when / otherwise": lambda: t.select(F.when(F.col("ID") > 1, "x").otherwise("y")).collect(),
        "array_agg / object_construct": lambda: t.group_by("GRP").agg(F.array_agg("ID"), F.max(F.object_construct(F.lit("a"), F.col("ID")))).collect(),
        "pivot / unpivot": lambda: (t.pivot("GRP", ["a", "b"]).sum("AMOUNT").collect(), t.unpivot("V", "K", ["ID", "AMOUNT"]).collect()),
        "flatten (DataFrame, table_function)": lambda: (
            s.create_dataframe([["[1,2]"]], schema=["J"]).select(F.parse_json("J").alias("J")).flatten("J").collect(),
            s.table_function("flatten", F.parse_json(F.lit("[1]"))).collect(),
        ),
        "range": lambda: s.range(5).collect(),
        "describe / first / show / sample": lambda: (t.describe().collect(), t.first(), t.show(), t.sample(n=2).collect()),
        "cache_result": lambda: t.cache_result().collect(),
        "random_split": lambda: t.random_split([0.5, 0.5], seed=1),
        "stat.crosstab / approx_quantile": lambda: (t.stat.crosstab("ID", "GRP").collect(), t.stat.approx_quantile("AMOUNT", [0.5])),
        "to_pandas / to_pandas_batches / to_local_iterator": lambda: (t.to_pandas(), list(t.to_pandas_batches()), list(t.to_local_iterator())),
        "collect(statement_params) / collect_nowait / count": lambda: (t.collect(statement_params={"a": "b"}), t.collect_nowait().result(), t.count()),
        "write.save_as_table (overwrite, append new, append)": lambda: (
            t.write.save_as_table("L2", mode="overwrite"),
            t.write.save_as_table("L3", mode="append"),
            t.write.save_as_table("L3", mode="append"),
        ),
        "write_pandas (auto_create_table)": lambda: s.write_pandas(t.to_pandas(), "L4", auto_create_table=True),
        "create_or_replace_view / temp_view": lambda: (t.create_or_replace_view("LV"), t.create_or_replace_temp_view("LTV")),
        "Table.update / delete / merge": lambda: (
            s.table("L2").update({"AMOUNT": F.lit(5)}, F.col("ID") == 1),
            s.table("L2").delete(F.col("ID") == 3),
            target.merge(source, target["ID"] == source["ID"], [F.when_matched().update({"AMOUNT": source["AMOUNT"]}), F.when_not_matched().insert({"ID": source["ID"], "GRP": source["GRP"], "AMOUNT": source["AMOUNT"]})]),
        ),
        "use_database / use_schema / get_current_*": lambda: (s.use_schema("PUBLIC"), s.get_current_database(), s.get_current_schema(), s.get_current_warehouse()),
        "query_tag": lambda: setattr(s, "query_tag", "probe"),
        "file.put / get / put_stream / get_stream": lambda: _files(s),
        "copy_into_location / read.parquet": lambda: (
            t.write.copy_into_location("@ST/out/", file_format_type="parquet", header=True, overwrite=True),
            s.read.parquet("@ST/out/").collect(),
        ),
        "sproc.register + call": lambda: s.call(s.sproc.register(lambda session, x: x + 1, return_type=IntegerType(), input_types=[IntegerType()], packages=["snowflake-snowpark-python"]).name, 1),
        "udf.register + call_udf": lambda: t.select(F.call_udf(s.udf.register(lambda x: x + 1, return_type=IntegerType(), input_types=[IntegerType()]).name, F.col("ID"))).collect(),
    }  # fmt: skip


def _files(s: Session) -> None:
    import io
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    (folder / "a.csv").write_text("1\n")
    s.file.put(str(folder / "a.csv"), "@ST/files", auto_compress=False)
    s.file.get("@ST/files/a.csv", str(folder / "got"))
    s.file.put_stream(io.BytesIO(b"2\n"), "@ST/files/b.csv", auto_compress=False)
    s.file.get_stream("@ST/files/b.csv").read()


def main() -> None:
    outcomes: dict[str, str] = {}

    def task(s: Session) -> None:
        s.sql("create or replace table LOANS (ID int, GRP varchar, AMOUNT int)").collect()
        s.sql("insert into LOANS values (1, 'a', 10), (2, 'b', 20), (3, 'b', 30)").collect()
        s.sql("create or replace table SRC (ID int, GRP varchar, AMOUNT int)").collect()
        s.sql("insert into SRC values (1, 'a', 11), (4, 'c', 40)").collect()
        s.sql("create or replace stage ST").collect()
        for name, call in calls(s).items():
            try:
                call()
                outcomes[name] = "ok"
            except Exception as exc:  # the point: record what fails, and go on
                outcomes[name] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"

    with LocalDAGOperation() as op:
        with DAG("coverage") as dag:
            DAGTask("probe", task)
        op.deploy(dag)
        state = op.run(dag).state
    failed = {name: why for name, why in outcomes.items() if why != "ok"}
    for name, why in failed.items():
        print(f"FAILS  {name}: {why}")
    ran = len(outcomes) - len(failed)
    print(
        f"graph run {state}; {ran} of {len(outcomes)} groups of Snowpark calls ran ({ran / len(outcomes):.0%})"
    )


if __name__ == "__main__":
    main()
