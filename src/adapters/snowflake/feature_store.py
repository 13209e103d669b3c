"""FeatureStore on ``snowflake.ml.feature_store`` and ``snowflake.ml.dataset``: the guide's entity and feature
view, point-in-time dataset versions, deterministic splits, lineage and deletion.

The features are the guide's (``get_feature_view`` in ``src/data.py``) and the simulator's, written as Snowpark
expressions in ``feature_dataframe`` so they can be checked offline in Snowpark's local testing mode: date parts
of TIMESTAMP, amounts × 1000, INCOME / LOAN_AMOUNT, the county mean income, the high-income flag, a 30-day RANGE
window of county loan amounts, mean imputation with global means baked in as literals (a NULL mean → 0), and
LOAN_PURPOSE_ENCODED from a label-encoding UDF (index in the sorted distinct purposes; NULL or unknown → -1).

Splits: a row goes to ``<v>_test`` when ``SPLIT_BUCKET_SQL`` — the first 32 bits of the key's MD5, read as a
hexadecimal number — is below ``test_fraction * 2**32``, else to ``<v>_train``. It depends on the key
only, so a loan stays in its split across data versions; the simulator applies the same rule.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from adapters.snowflake.errors import vendor_errors
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.sql_text import identifier, stored_identifier
from domain.errors import AlreadyExists, BackendUnavailable, InvalidConfig, NotFound
from domain.features import (
    ENCODED_FEATURE,
    ENTITY_DESC,
    ENTITY_NAME,
    EXCLUDE_COLS,
    FEATURE_VIEW_NAME,
    FEATURES,
    HASH_SPACE,
    JOIN_KEY,
    LABEL_COL,
    LABEL_COLS,
    NUMERIC_FEATURES,
    PURPOSE_COL,
    TIMESTAMP_COL,
)
from domain.names import normalize_identifier, normalize_qualified, validate_version, version_from_timestamp
from domain.refs import DatasetRef, DatasetSplits, DatasetVersionInfo, FeatureViewRef

_HEX_8_DIGITS = "X" * 8  # TO_NUMBER's format for eight hexadecimal digits
SPLIT_BUCKET_SQL = f"TO_NUMBER(SUBSTR(MD5(TO_VARCHAR({JOIN_KEY})), 1, 8), '{_HEX_8_DIGITS}')"
_SETUP_FIX = "run `python -m app setup --backend snowflake`"

Encoder = Callable[[Any], Any]  # Column -> Column


def base_features(raw: Any) -> Any:
    """The guide's two ``with_columns`` passes, before imputation (``raw`` is the source table's DataFrame)."""
    from snowflake.snowpark import Window
    from snowflake.snowpark import functions as F

    df = raw.with_columns(
        [TIMESTAMP_COL, "LOAN_AMOUNT", "INCOME"],
        [
            F.to_timestamp(F.col("TS")),
            F.col('"LOAN_AMOUNT_000s"') * 1000,
            F.col('"APPLICANT_INCOME_000s"') * 1000,
        ],
    )
    county = Window.partition_by("COUNTY_NAME")
    thirty_days = county.order_by(TIMESTAMP_COL).range_between(F.make_interval(days=-30), Window.CURRENT_ROW)
    ts = F.col(TIMESTAMP_COL)
    df = df.with_columns(
        [
            "MONTH",
            "DAY_OF_YEAR",
            "DOTW",
            "INCOME_LOAN_RATIO",
            "MEAN_COUNTY_INCOME",
            "AVG_THIRTY_DAY_LOAN_AMOUNT",
        ],
        [
            # date_part is what MONTH()/DAYOFYEAR()/DAYOFWEEK() expand to; DOTW follows WEEK_START (0: Sunday = 0)
            F.date_part("month", ts),
            F.date_part("dayofyear", ts),
            F.date_part("dayofweek", ts),
            F.col("INCOME") / F.col("LOAN_AMOUNT"),
            F.avg("INCOME").over(county),
            F.avg("LOAN_AMOUNT").over(thirty_days),
        ],
    )
    return df.with_column(
        "HIGH_INCOME_FLAG",
        F.iff(F.col("INCOME").is_null() | F.col("MEAN_COUNTY_INCOME").is_null(), F.lit(None),
              F.iff(F.col("INCOME") > F.col("MEAN_COUNTY_INCOME"), F.lit(1), F.lit(0))),
    )  # fmt: skip


def global_means(base: Any) -> dict[str, float]:
    """The mean of each numeric feature over the whole table (NULL → 0), computed once per version."""
    from snowflake.snowpark import functions as F

    # As doubles: Snowflake's AVG of an integer column is a NUMBER with scale 6 (0.365079, not 0.3650793…).
    row = base.select([F.avg(F.col(f).cast("double")).alias(f) for f in NUMERIC_FEATURES]).collect()[0]
    return {f: float(row[f]) if row[f] is not None else 0.0 for f in NUMERIC_FEATURES}


def purpose_levels(raw: Any) -> list[str]:
    """The distinct non-NULL loan purposes in sorted order: the encoder maps each to its index."""
    from snowflake.snowpark import functions as F

    rows = raw.select(PURPOSE_COL).where(F.col(PURPOSE_COL).is_not_null()).distinct().collect()
    return sorted(str(r[0]) for r in rows)


def feature_dataframe(raw: Any, *, means: Mapping[str, float], encoder: Encoder) -> Any:
    """The feature view's DataFrame: key, timestamp, the nine imputed numeric features and the encoded purpose."""
    from snowflake.snowpark import functions as F

    missing = [f for f in NUMERIC_FEATURES if f not in means]
    if missing:
        raise InvalidConfig(f"means lack {missing}; compute them with global_means(base_features(raw))")
    base = base_features(raw)
    imputed = [F.coalesce(F.col(f).cast("double"), F.lit(float(means[f]))).alias(f) for f in NUMERIC_FEATURES]
    return base.select(
        F.col(JOIN_KEY), F.col(TIMESTAMP_COL), *imputed, encoder(F.col(PURPOSE_COL)).alias(ENCODED_FEATURE)
    )


def label_encoder(
    session: Any, levels: list[str], *, name: str | None = None, stage_location: str | None = None
) -> Any:
    """The guide's label-encoding UDF: permanent in ``stage_location`` when given, else temporary."""
    from snowflake.snowpark.types import IntegerType, StringType

    mapping = {level: i for i, level in enumerate(levels)}

    # No annotations: Snowpark would parse them and refuses PEP 604 unions; the types are given below.
    def encode(value):  # type: ignore[no-untyped-def]
        return mapping.get(value, -1) if value is not None else -1

    return session.udf.register(
        encode,
        return_type=IntegerType(),
        input_types=[StringType()],
        name=name,
        is_permanent=stage_location is not None,
        stage_location=stage_location,
        replace=True,
        immutable=True,
    )


def split_filters(test_fraction: float) -> tuple[str, str]:
    """SQL predicates of the train and test splits (see the module docstring)."""
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, int | float)
        or not 0 < test_fraction < 1
    ):
        raise InvalidConfig(f"test_fraction must be a number strictly between 0 and 1, got {test_fraction!r}")
    threshold = repr(float(test_fraction) * HASH_SPACE)
    return f"{SPLIT_BUCKET_SQL} >= {threshold}", f"{SPLIT_BUCKET_SQL} < {threshold}"


# SHOW VERSIONS IN DATASET names the version ``version`` (snowflake/ml/dataset/dataset.py:
# _DATASET_VERSION_NAME_COL, which Dataset.list_versions sorts by); DatasetVersion.created_on and .comment read the
# ``created_on`` and ``comment`` columns of the same rows.
DATASET_VERSION_COLUMN = "version"


def _listed(row: Mapping[str, Any], column: str, what: str) -> Any:
    """One column of a snowflake.ml listing row; a missing one means the library's output changed shape."""
    if column not in row:
        raise BackendUnavailable(
            f"{what}: the listing has no column {column!r} (it has {sorted(row)}); the installed snowflake-ml-python "
            "returns rows of another shape than this adapter reads"
        )
    return row[column]


class SnowflakeFeatureStore:
    """The FeatureStore port on a real account; the store lives in ``names.data_schema``, datasets in ``schema``."""

    def __init__(self, session: Any, names: SnowflakeNames | None = None) -> None:
        self._session = session
        self.names = names or SnowflakeNames()
        self._store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            from snowflake.ml.feature_store import CreationMode, FeatureStore

            with vendor_errors(f"feature store {self.names.data_schema_fqn}", fix=_SETUP_FIX):
                self._store = FeatureStore(
                    self._session,
                    database=self.names.database,
                    name=self.names.data_schema,
                    default_warehouse=self.names.warehouse,
                    creation_mode=CreationMode.FAIL_IF_NOT_EXIST,
                )
        return self._store

    def _table(self, source_table: str) -> tuple[str, str, str]:
        """``[database.][schema.]name`` as three SQL identifiers (quoted where Snowflake needs it)."""
        sql = [stored_identifier(p) for p in normalize_qualified(source_table, "table")]
        defaults = [self.names.database, self.names.data_schema]
        return tuple([*defaults[: 3 - len(sql)], *sql])  # type: ignore[return-value]

    def _dataset_fqn(self, name: str) -> str:
        return f"{self.names.schema_fqn}.{identifier(name, 'dataset')}"

    def source_version(self, source_table: str) -> str:
        db, schema, table = self._table(source_table)
        with vendor_errors(f"table {db}.{schema}.{table}", fix=_SETUP_FIX):
            rows = self._session.sql(
                f"select LAST_ALTERED from {db}.INFORMATION_SCHEMA.TABLES where TABLE_SCHEMA = ? and TABLE_NAME = ?",
                params=[normalize_identifier(schema), normalize_identifier(table)],  # as stored
            ).collect()
        if not rows:
            raise NotFound(
                f"table {db}.{schema}.{table} does not exist; {_SETUP_FIX} to upload the source data"
            )
        return version_from_timestamp(rows[0][0])

    def ensure_feature_view(self, source_table: str, version: str) -> FeatureViewRef:
        validate_version(version, "feature view version")
        db, schema, table = self._table(source_table)
        existing = self._find_feature_view(version)
        if existing is not None:
            return FeatureViewRef(FEATURE_VIEW_NAME, version)
        current = self.source_version(source_table)
        if version != current:
            raise InvalidConfig(
                f"version {version!r} does not match the data version {current!r} of {db}.{schema}.{table}; "
                "a feature view is only built from the data of its own version"
            )
        from snowflake.ml.feature_store import Entity, FeatureView

        with (
            vendor_errors(f"feature view {FEATURE_VIEW_NAME}/{version}", fix=_SETUP_FIX),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore", UserWarning)  # "Entity … already exists. Skip registration."
            raw = self._session.table(f"{db}.{schema}.{table}")
            udf_name = f"{self.names.data_schema_fqn}.LABEL_ENCODE_{re.sub(r'[^A-Za-z0-9_]', '_', version)}_{PURPOSE_COL}"
            encoder = label_encoder(
                self._session, purpose_levels(raw), name=udf_name, stage_location=self.names.udf_stage
            )
            df = feature_dataframe(raw, means=global_means(base_features(raw)), encoder=encoder)
            entity = Entity(ENTITY_NAME, [JOIN_KEY], desc=ENTITY_DESC)
            self.store.register_entity(entity)
            view = FeatureView(
                FEATURE_VIEW_NAME,
                [entity],
                df,
                timestamp_col=TIMESTAMP_COL,
                refresh_freq="1 day",
                desc=f"Mortgage features of {db}.{schema}.{table} at {version}",
            ).attach_feature_desc({f: f"{f} (the guide's definition)" for f in FEATURES})
            self.store.register_feature_view(view, version=version)
        return FeatureViewRef(FEATURE_VIEW_NAME, version)

    def _find_feature_view(self, version: str) -> Any:
        try:
            return self.store.get_feature_view(FEATURE_VIEW_NAME, version)
        except ValueError as exc:
            if "(2101)" in str(exc) or "Failed to find" in str(exc):
                return None
            with vendor_errors(f"feature view {FEATURE_VIEW_NAME}/{version}"):
                raise

    def generate_dataset(
        self, name: str, version: str, *, source_table: str, feature_view: FeatureViewRef
    ) -> DatasetRef:
        validate_version(version, "dataset version")
        fqn = self._dataset_fqn(name)
        if version in self._versions(fqn):
            raise AlreadyExists(f"dataset {fqn} version {version!r} exists; dataset versions are immutable")
        view = self._find_feature_view(feature_view.version)
        if view is None:
            raise NotFound(f"feature view {feature_view.name}/{feature_view.version} is not registered")
        from snowflake.ml import dataset
        from snowflake.snowpark import functions as F

        db, schema, table = self._table(source_table)
        with vendor_errors(
            f"dataset {fqn} version {version!r}", fix="GRANT CREATE DATASET ON SCHEMA to the role"
        ):
            spine = self._session.table(f"{db}.{schema}.{table}").select(
                F.col(JOIN_KEY), F.to_timestamp(F.col("TS")).alias(TIMESTAMP_COL), F.col(LABEL_COL)
            )
            df = self.store.generate_training_set(
                spine, [view], spine_timestamp_col=TIMESTAMP_COL, spine_label_cols=[LABEL_COL]
            )
            dataset.create_from_dataframe(
                self._session,
                fqn,
                version,
                input_dataframe=df,
                label_cols=[LABEL_COL],
                exclude_cols=[TIMESTAMP_COL, JOIN_KEY],  # keys and timestamps are never features
                comment=f"{feature_view.name}/{feature_view.version} point-in-time on {db}.{schema}.{table}",
            )
        return DatasetRef(name, version, label_cols=LABEL_COLS, exclude_cols=EXCLUDE_COLS)

    def split_dataset(self, dataset: DatasetRef, *, test_fraction: float) -> DatasetSplits:
        train_filter, test_filter = split_filters(test_fraction)
        fqn = self._dataset_fqn(dataset.name)
        full = self.get_dataset(dataset.name, dataset.version)
        existing = self._versions(fqn)
        names = {"train": f"{full.version}_train", "test": f"{full.version}_test"}
        clash = [v for v in names.values() if v in existing]
        if clash:
            raise AlreadyExists(f"dataset {fqn} already has split versions {clash}")
        from snowflake.ml.dataset import Dataset
        from snowflake.snowpark import functions as F

        written: list[str] = []
        with vendor_errors(f"splitting dataset {fqn} version {full.version!r}"):
            source = Dataset.load(self._session, fqn).select_version(full.version)
            rows = source.read.to_snowpark_dataframe()
            try:
                for split, predicate in (("train", train_filter), ("test", test_filter)):
                    source.create_version(
                        names[split],
                        rows.filter(F.sql_expr(predicate)),
                        label_cols=list(full.label_cols),
                        exclude_cols=list(full.exclude_cols),
                        comment=f"{'Training' if split == 'train' else 'Testing'} split for {full.version}",
                    )
                    written.append(names[split])
            except Exception:
                for v in written:  # no half-written split pair
                    source.delete_version(v)
                raise
        return DatasetSplits(
            full=full,
            train=DatasetRef(full.name, names["train"], full.label_cols, full.exclude_cols),
            test=DatasetRef(full.name, names["test"], full.label_cols, full.exclude_cols),
        )

    def _load(self, fqn: str) -> Any:
        from snowflake.ml._internal.exceptions.dataset_errors import DatasetNotExistError
        from snowflake.ml.dataset import Dataset

        try:
            with vendor_errors(f"dataset {fqn}"):
                return Dataset.load(self._session, fqn)
        except NotFound:
            return None
        except DatasetNotExistError:
            return None

    def _versions(self, fqn: str) -> list[str]:
        ds = self._load(fqn)
        if ds is None:
            return []
        with vendor_errors(f"versions of dataset {fqn}"):
            return [str(v) for v in ds.list_versions()]

    def get_dataset(self, name: str, version: str) -> DatasetRef:
        fqn = self._dataset_fqn(name)
        ds = self._load(fqn)
        if ds is None or version not in self._versions(fqn):
            raise NotFound(f"dataset {fqn} version {version!r} does not exist")
        with vendor_errors(f"dataset {fqn} version {version!r}"):
            selected = ds.select_version(version).selected_version
            return DatasetRef(
                name,
                version,
                label_cols=tuple(selected.label_cols),
                exclude_cols=tuple(selected.exclude_cols),
            )

    def list_dataset_versions(self, name: str) -> list[DatasetVersionInfo]:
        fqn = self._dataset_fqn(name)
        ds = self._load(fqn)
        if ds is None:
            return []
        what = f"versions of dataset {fqn}"
        with vendor_errors(
            what
        ):  # reading the rows too: a shape surprise is translated, never a bare KeyError
            rows = [row.as_dict() for row in ds.list_versions(detailed=True)]
            return [
                DatasetVersionInfo(
                    name=name,
                    version=str(_listed(r, DATASET_VERSION_COLUMN, what)),
                    created_on=_listed(r, "created_on", what),
                    comment=str(_listed(r, "comment", what) or ""),
                )
                for r in rows
            ]

    def delete_dataset_version(self, name: str, version: str) -> None:
        fqn = self._dataset_fqn(name)
        if version not in self._versions(fqn):
            raise NotFound(f"dataset {fqn} version {version!r} does not exist")
        with vendor_errors(f"dataset {fqn} version {version!r}"):
            self._load(fqn).delete_version(version)

    def downstream_models(self, name: str, version: str) -> list[tuple[str, str]]:
        fqn = self._dataset_fqn(name)
        if version not in self._versions(fqn):
            raise NotFound(f"dataset {fqn} version {version!r} does not exist")
        with vendor_errors(f"lineage of dataset {fqn} version {version!r}"):
            nodes = (
                self._load(fqn)
                .select_version(version)
                .lineage(direction="downstream", domain_filter={"model"})
            )
        pairs = {
            (str(n.model_name).rsplit(".", 1)[-1], str(n.version_name))
            for n in nodes
            if hasattr(n, "model_name") and hasattr(n, "version_name")
        }
        return sorted(pairs)
