"""Immutable dataset versions: Parquet files plus a catalog row, as ``snowflake.ml.dataset`` keeps them.

Layout (other modules rely on it): ``<home>/files/datasets/<NAME>/<VERSION>/*.parquet`` holds every column of
the version — key, timestamp, label and features — readable without DuckDB (the training workers read it with
pyarrow). ``<NAME>`` is the dataset name as ``DatasetRef.name`` holds it (unquoted names upper case), ``<VERSION>``
the version as given (case kept); characters that cannot be in a folder name are %-encoded.

The catalog ``DATASET_VERSIONS`` (DuckDB ``main`` schema) holds name, version, created_on, row_count,
label_cols, exclude_cols, key_cols, comment and the source query. A version is written to a staging folder
first, then moved into place while its catalog row is inserted in one transaction: a failure leaves nothing.

Lineage: ``REGISTRY_LINEAGE(MODEL_NAME, VERSION, DATASET_NAME, DATASET_VERSION)``, written by the model
registry; either side may create it first.

The train/test split is ``md5(key as text)``: the first 8 hex digits as an integer, divided by 2**32, below the
test fraction → test. The same key lands in the same split for every data version, and the rule can be written
in Snowflake SQL too (``adapters.snowflake.feature_store.SPLIT_BUCKET_SQL``).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.errors import translated
from adapters.simulator.account.folders import dataset_dir, path_segment
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import render_part, sql_string
from domain.errors import AlreadyExists, InvalidConfig, InvalidData, NotFound
from domain.features import HASH_SPACE
from domain.names import normalize_qualified, validate_version
from domain.refs import DatasetRef, DatasetSplits, DatasetVersionInfo

LINEAGE_DDL = (
    "create table if not exists REGISTRY_LINEAGE (MODEL_NAME VARCHAR, VERSION VARCHAR, "
    "DATASET_NAME VARCHAR, DATASET_VERSION VARCHAR)"
)


def dataset_name(name: str) -> str:
    """The canonical dataset name (``InvalidName`` for bad names): unquoted parts upper-cased."""
    return ".".join(render_part(p) for p in normalize_qualified(name, "dataset"))


def ensure_catalog(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(
        "create table if not exists DATASET_VERSIONS (NAME varchar not null, VERSION varchar not null, "
        "CREATED_ON timestamp not null, ROW_COUNT bigint not null, LABEL_COLS varchar[] not null, "
        "EXCLUDE_COLS varchar[] not null, KEY_COLS varchar[] not null, COMMENT varchar not null, "
        "SOURCE_QUERY varchar not null, primary key (NAME, VERSION))"
    )
    cur.execute(LINEAGE_DDL)


def dataset_files(account: LocalAccount, ref: DatasetRef) -> list[Path]:
    """The Parquet files of a dataset version, sorted; ``NotFound`` naming the folder when it holds none."""
    folder = dataset_dir(account.files, ref.name, ref.version)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise NotFound(f"dataset {ref.name} version {ref.version!r}: no Parquet file in {folder}")
    return files


def read_dataset(
    account: LocalAccount, ref: DatasetRef, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """All rows of a dataset version (every column, or ``columns``) as pandas."""
    files = dataset_files(account, ref)
    try:
        table = pq.read_table([str(f) for f in files], columns=list(columns) if columns is not None else None)
    except (KeyError, ValueError) as exc:  # pyarrow names the unknown column
        raise InvalidConfig(
            f"dataset {ref.name} version {ref.version!r}: cannot read {columns}: {exc}"
        ) from exc
    return table.to_pandas()


@dataclass(frozen=True)
class NewVersion:
    """A version to write: its name, the query producing its rows, and its comment."""

    version: str
    query: str
    comment: str = ""


def _ref(row: tuple) -> DatasetRef:
    return DatasetRef(name=row[0], version=row[1], label_cols=tuple(row[2]), exclude_cols=tuple(row[3]))


REPAIR = "python -m app run --force-refresh rebuilds this data version's datasets"


def get_version(account: LocalAccount, name: str, version: str) -> DatasetRef:
    """A version's reference, once its files are checked (``InvalidData`` for a damaged or missing part)."""
    name = dataset_name(name)
    with translated(f"reading dataset {name}"), account.cursor() as cur:
        ensure_catalog(cur)
        row = cur.execute(
            "select NAME, VERSION, LABEL_COLS, EXCLUDE_COLS, ROW_COUNT from DATASET_VERSIONS "
            "where NAME = ? and VERSION = ?",
            [name, version],
        ).fetchone()
    if row is None:
        raise NotFound(f"dataset {name} version {version!r} does not exist or is inaccessible")
    ref = _ref(row)
    verify_files(account, ref, int(row[4]))
    return ref


def verify_files(account: LocalAccount, ref: DatasetRef, row_count: int) -> None:
    """The version's Parquet parts exist, each has a readable footer, and together they hold the catalog's
    row count: what a reader would otherwise find only when training fails on it. Reads footers only."""
    try:
        files = dataset_files(account, ref)
    except NotFound as exc:  # the catalog has the version, so its files are what is wrong
        raise InvalidData(f"{exc}; {REPAIR}") from exc
    rows = 0
    for f in files:
        try:
            rows += pq.read_metadata(f).num_rows
        except (OSError, pa.ArrowException) as exc:  # truncated, overwritten or unreadable
            raise InvalidData(
                f"dataset {ref.name} version {ref.version!r}: the file {f} is damaged ({exc}); {REPAIR}"
            ) from exc
    if rows != row_count:
        raise InvalidData(
            f"dataset {ref.name} version {ref.version!r}: the files in {files[0].parent} hold {rows} rows, "
            f"the catalog {row_count}; {REPAIR}"
        )


def key_cols(account: LocalAccount, ref: DatasetRef) -> tuple[str, ...]:
    with translated(f"reading dataset {ref.name}"), account.cursor() as cur:
        ensure_catalog(cur)
        row = cur.execute(
            "select KEY_COLS from DATASET_VERSIONS where NAME = ? and VERSION = ?", [ref.name, ref.version]
        ).fetchone()
    if row is None:
        raise NotFound(f"dataset {ref.name} version {ref.version!r} does not exist or is inaccessible")
    return tuple(row[0])


def list_versions(account: LocalAccount, name: str) -> list[DatasetVersionInfo]:
    """Every version of ``name``, sorted by version name; ``[]`` for an unknown dataset."""
    name = dataset_name(name)
    with translated(f"listing dataset {name}"), account.cursor() as cur:
        ensure_catalog(cur)
        rows = cur.execute(
            "select VERSION, CREATED_ON, ROW_COUNT, COMMENT from DATASET_VERSIONS where NAME = ? order by VERSION",
            [name],
        ).fetchall()
    # Stored as naive UTC (DuckDB TIMESTAMP); the port promises aware UTC times.
    return [
        DatasetVersionInfo(name, v, created.replace(tzinfo=UTC), int(count), comment)
        for v, created, count, comment in rows
    ]


def create_versions(
    account: LocalAccount,
    name: str,
    versions: Sequence[NewVersion],
    *,
    label_cols: Sequence[str],
    exclude_cols: Sequence[str],
    key_cols: Sequence[str],
    source_query: str,
) -> list[DatasetRef]:
    """Write several versions of one dataset all or nothing; an existing one raises ``AlreadyExists``."""
    name = dataset_name(name)
    for v in versions:
        validate_version(v.version, "dataset version")
    staging = account.files / "datasets" / path_segment(name) / f".staging-{uuid.uuid4().hex}"
    moved: list[Path] = []
    with translated(f"writing dataset {name}"), account.cursor() as cur:
        ensure_catalog(cur)
        for v in versions:
            if cur.execute(
                "select count(*) from DATASET_VERSIONS where NAME = ? and VERSION = ?", [name, v.version]
            ).fetchone()[0]:
                raise AlreadyExists(f"dataset {name} version {v.version!r} already exists")
        try:
            counts = []
            for v in versions:
                folder = staging / path_segment(v.version)
                folder.mkdir(parents=True)
                target = sql_string(str(folder / "part-0.parquet"))
                counts.append(
                    int(cur.execute(f"copy ({v.query}) to {target} (format parquet)").fetchone()[0])
                )
            cur.execute("begin transaction")
            try:
                for v, count in zip(versions, counts, strict=True):
                    cur.execute(
                        "insert into DATASET_VERSIONS values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [name, v.version, catalog_now(), count, list(label_cols), list(exclude_cols),
                         list(key_cols), v.comment, source_query],
                    )  # fmt: skip
                    final = dataset_dir(account.files, name, v.version)
                    shutil.rmtree(final, ignore_errors=True)  # files a crash left without a catalog row
                    (staging / path_segment(v.version)).rename(final)
                    moved.append(final)
                cur.execute("commit")
            except BaseException:
                cur.execute("rollback")
                for folder in moved:
                    shutil.rmtree(folder, ignore_errors=True)
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return [
        DatasetRef(name, v.version, label_cols=tuple(label_cols), exclude_cols=tuple(exclude_cols))
        for v in versions
    ]


def split_versions(account: LocalAccount, ref: DatasetRef, test_fraction: float) -> DatasetSplits:
    """``<v>_train`` and ``<v>_test`` of ``ref``, by the md5 bucket of its key (see the module docstring)."""
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, int | float)
        or not 0 < test_fraction < 1
    ):
        raise InvalidConfig(f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}")
    full = get_version(account, ref.name, ref.version)
    keys = key_cols(account, full)
    if len(keys) != 1:
        raise InvalidConfig(
            f"dataset {full.name} version {full.version!r} needs exactly one key column to split"
        )
    files = ", ".join(sql_string(str(f)) for f in dataset_files(account, full))
    key = '"' + keys[0].replace('"', '""') + '"'
    bucket = f"cast(('0x' || substr(md5(cast({key} as varchar)), 1, 8)) as ubigint)"
    threshold = float(test_fraction) * HASH_SPACE
    source = f"select * from read_parquet([{files}])"
    with translated(f"reading dataset {full.name}"), account.cursor() as cur:
        source_query = cur.execute(
            "select SOURCE_QUERY from DATASET_VERSIONS where NAME = ? and VERSION = ?",
            [full.name, full.version],
        ).fetchone()[0]
    train, test = create_versions(
        account,
        full.name,
        [
            NewVersion(
                f"{full.version}_train",
                f"{source} where {bucket} >= {threshold!r}",
                f"Training split for {full.version}",
            ),
            NewVersion(
                f"{full.version}_test",
                f"{source} where {bucket} < {threshold!r}",
                f"Testing split for {full.version}",
            ),
        ],
        label_cols=full.label_cols,
        exclude_cols=full.exclude_cols,
        key_cols=keys,
        source_query=source_query,
    )
    return DatasetSplits(full=full, train=train, test=test)


def delete_version(account: LocalAccount, name: str, version: str) -> None:
    """Remove the catalog row and the files; ``NotFound`` for an unknown version."""
    name = dataset_name(name)
    folder = dataset_dir(account.files, name, version)
    with translated(f"deleting dataset {name} version {version!r}"), account.transaction() as cur:
        ensure_catalog(cur)
        if not cur.execute(
            "delete from DATASET_VERSIONS where NAME = ? and VERSION = ? returning VERSION", [name, version]
        ).fetchall():
            raise NotFound(f"dataset {name} version {version!r} does not exist or is inaccessible")
    # After the commit: a version without its catalog row is gone, and its stale files are replaced if recreated.
    shutil.rmtree(folder, ignore_errors=True)


def downstream_models(account: LocalAccount, name: str, version: str) -> list[tuple[str, str]]:
    """``(model_name, version)`` pairs whose lineage points at the dataset version, sorted."""
    name = dataset_name(name)
    with translated(f"reading lineage of dataset {name}"), account.cursor() as cur:
        ensure_catalog(cur)
        rows = cur.execute(
            "select distinct MODEL_NAME, VERSION from REGISTRY_LINEAGE "
            "where DATASET_NAME = ? and DATASET_VERSION = ? order by all",
            [name, version],
        ).fetchall()
    return [(str(m), str(v)) for m, v in rows]
