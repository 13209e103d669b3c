"""Benchmark of the simulator's Feature Store.

1. ``setup`` + feature view + dataset generation + split for the guide's 369,245 rows (or ``--rows``): wall time
   of each step and the peak RSS of the process doing it.
2. The point-in-time join at 1M and 10M spine rows (``--pit-sizes``): the simulator's ASOF join in DuckDB
   writing Parquet — exactly the query ``generate_dataset`` runs — against ``pandas.merge_asof`` producing the same
   rows in the same order and writing Parquet, on the same data, in the same run. Each side runs in its own
   subprocess so peak RSS is its own; each reads the data from its natural storage (DuckDB tables vs Parquet
   files read into pandas), prepared beforehand by another subprocess.

    python benchmarks/bench_feature_store.py [--rows N] [--pit-sizes 1000000,10000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = [f"F{i}" for i in range(10)]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def child_pipeline(folder: Path, rows: int) -> dict:
    from adapters.simulator.account.home import LocalAccount
    from adapters.simulator.feature_store.store import SimFeatureStore
    from adapters.simulator.setup import setup_account

    times: dict[str, float] = {}
    with LocalAccount(folder / "home") as account:
        t = time.perf_counter()
        report = setup_account(account, rows=rows)  # generate + load + the feature view
        times["setup_and_feature_view_s"] = time.perf_counter() - t
        store = SimFeatureStore(account)
        t = time.perf_counter()
        ref = store.generate_dataset(
            "MORTGAGE_DATASET",
            report.data_version,
            source_table=report.source_table,
            feature_view=store.ensure_feature_view(report.source_table, report.data_version),
        )
        times["generate_dataset_s"] = time.perf_counter() - t
        t = time.perf_counter()
        store.split_dataset(ref, test_fraction=0.2)
        times["split_s"] = time.perf_counter() - t
    return {**times, "rows": report.row_count, "peak_rss_mb": _peak_mb()}


def child_prepare(folder: Path, n: int) -> dict:
    """The same data for both sides: Parquet files for pandas, a DuckDB database for the simulator."""
    import duckdb
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    keys = max(n // 4, 1)
    span_ms = 400 * 86_400_000
    start = np.datetime64("2023-01-01T00:00:00", "ms")
    fv = {
        "LOAN_ID": rng.integers(0, keys, n),
        "TIMESTAMP": start + rng.integers(0, span_ms, n).astype("timedelta64[ms]"),
        **{f: rng.random(n) for f in FEATURES},
    }
    pq.write_table(pa.table(fv), folder / "fv.parquet")
    del fv
    spine = {
        "LOAN_ID": rng.integers(0, keys, n),
        "TIMESTAMP": start + rng.integers(0, span_ms, n).astype("timedelta64[ms]"),
        "MORTGAGERESPONSE": rng.integers(0, 2, n),
    }
    pq.write_table(pa.table(spine), folder / "spine.parquet")
    del spine
    con = duckdb.connect(str(folder / "account.duckdb"))
    con.execute(f"create table FV as select * from read_parquet('{folder / 'fv.parquet'}')")
    con.execute(f"create table SPINE as select * from read_parquet('{folder / 'spine.parquet'}')")
    con.close()
    return {"rows": n}


def child_duckdb(folder: Path, n: int) -> dict:
    import duckdb

    con = duckdb.connect(str(folder / "account.duckdb"), read_only=True)
    out = folder / "duckdb_out.parquet"
    features = ", ".join(f"f.{f}" for f in FEATURES)
    t = time.perf_counter()
    rows = con.execute(
        f"copy (select s.LOAN_ID, s.TIMESTAMP, s.MORTGAGERESPONSE, {features} from SPINE s "
        f"asof left join FV f on s.LOAN_ID = f.LOAN_ID and s.TIMESTAMP >= f.TIMESTAMP "
        f"order by s.LOAN_ID, s.TIMESTAMP) to '{out}' (format parquet)"
    ).fetchone()[0]
    elapsed = time.perf_counter() - t
    checksum = con.execute(f"select sum(F0), count(F0) from read_parquet('{out}')").fetchone()
    return {"join_s": elapsed, "rows": rows, "checksum": list(checksum), "peak_rss_mb": _peak_mb()}


def child_pandas(folder: Path, n: int) -> dict:
    import pandas as pd

    spine = pd.read_parquet(folder / "spine.parquet")
    fv = pd.read_parquet(folder / "fv.parquet")
    out = folder / "pandas_out.parquet"
    t = time.perf_counter()
    joined = pd.merge_asof(
        spine.sort_values("TIMESTAMP"),
        fv.sort_values("TIMESTAMP"),
        on="TIMESTAMP",
        by="LOAN_ID",
        direction="backward",
        allow_exact_matches=True,
    ).sort_values(["LOAN_ID", "TIMESTAMP"])
    joined.to_parquet(out, index=False)
    elapsed = time.perf_counter() - t
    return {
        "join_s": elapsed,
        "rows": len(joined),
        "checksum": [float(joined["F0"].sum()), int(joined["F0"].count())],
        "peak_rss_mb": _peak_mb(),
    }


CHILDREN = {
    "pipeline": child_pipeline,
    "prepare": child_prepare,
    "duckdb": child_duckdb,
    "pandas": child_pandas,
}


def run_child(kind: str, folder: Path, n: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--dir", str(folder), "--n", str(n)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark step {kind} (n={n}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=369_245, help="source rows for the pipeline part")
    parser.add_argument("--pit-sizes", default="1000000,10000000", help="spine sizes for the join comparison")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.dir, args.n)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-fs-") as tmp:
        folder = Path(tmp)
        result = run_child("pipeline", folder, args.rows)
        print(f"setup + feature view + dataset + split, {result['rows']:,} rows:")
        total = result["setup_and_feature_view_s"] + result["generate_dataset_s"] + result["split_s"]
        print(
            f"  setup+feature view {result['setup_and_feature_view_s']:.2f} s, generate_dataset "
            f"{result['generate_dataset_s']:.2f} s, split {result['split_s']:.2f} s, total {total:.2f} s; "
            f"peak RSS {result['peak_rss_mb']:.0f} MB"
        )
    for n in (int(x) for x in args.pit_sizes.split(",") if x):
        with tempfile.TemporaryDirectory(prefix="bench-pit-") as tmp:
            folder = Path(tmp)
            run_child("prepare", folder, n)
            duck, pandas = run_child("duckdb", folder, n), run_child("pandas", folder, n)
            same = duck["rows"] == pandas["rows"] and duck["checksum"][1] == pandas["checksum"][1]
            print(
                f"point-in-time join, {n:,} spine rows x {n:,} feature rows -> Parquet:\n"
                f"  simulator (DuckDB ASOF) {duck['join_s']:.2f} s, peak RSS {duck['peak_rss_mb']:.0f} MB\n"
                f"  pandas.merge_asof       {pandas['join_s']:.2f} s, peak RSS {pandas['peak_rss_mb']:.0f} MB\n"
                f"  speed-up x{pandas['join_s'] / duck['join_s']:.2f}, memory ratio "
                f"{duck['peak_rss_mb'] / pandas['peak_rss_mb']:.2f} (simulator / pandas); "
                f"same matches: {'yes' if same else 'NO'}"
            )


if __name__ == "__main__":
    main()
