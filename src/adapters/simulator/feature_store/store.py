"""The FeatureStore port on the local account: DuckDB feature views, ASOF joins, Parquet dataset versions.

The feature store lives in schema ``<database>.<schema>`` (the guide's ``SNOWBANK.DATA``); unqualified source
tables and feature views resolve there. Dataset names are kept as given (normalized), as the port's refs carry
them. See ``feature_views`` for the features and ``datasets`` for the storage of versions.
"""

from __future__ import annotations

import warnings

from adapters.simulator.account.errors import translated
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.objects import ObjectName, resolve_name
from adapters.simulator.feature_store import datasets
from adapters.simulator.feature_store.feature_views import (
    ensure_entity,
    find_feature_view,
    materialize_feature_view,
    register_feature_view,
    version_table,
)
from adapters.simulator.feature_store.source_tables import (
    DEFAULT_DATA_SCHEMA,
    DEFAULT_DATABASE,
    TableInfo,
    describe_table,
)
from domain.errors import InvalidConfig, NotFound
from domain.features import (
    EXCLUDE_COLS,
    FEATURE_VIEW_NAME,
    FEATURES,
    JOIN_KEY,
    LABEL_COL,
    LABEL_COLS,
    TIMESTAMP_COL,
)
from domain.names import validate_version
from domain.refs import DatasetRef, DatasetSplits, DatasetVersionInfo, FeatureViewRef


class SimFeatureStore:
    """``domain.ports.FeatureStore`` on a ``LocalAccount``."""

    def __init__(
        self, account: LocalAccount, *, database: str = DEFAULT_DATABASE, schema: str = DEFAULT_DATA_SCHEMA
    ) -> None:
        self._account = account
        self._database = database
        self._schema = schema

    def _source(self, source_table: str) -> TableInfo:
        return describe_table(self._account, source_table, database=self._database, schema=self._schema)

    def _view(self, name: str) -> ObjectName:
        return resolve_name(name, database=self._database, schema=self._schema, what="feature view")

    def source_version(self, source_table: str) -> str:
        return self._source(source_table).version

    def ensure_feature_view(self, source_table: str, version: str) -> FeatureViewRef:
        validate_version(version, "feature view version")
        view = self._view(FEATURE_VIEW_NAME)
        source = self._source(source_table)
        # Check, write and register under the account lock, as one step for other threads; the rows and the
        # catalog row are two transactions (DuckDB writes one attached database per transaction), rows first.
        with self._account.lock:
            with translated(f"registering feature view {view}/{version}"), self._account.cursor() as cur:
                existing = find_feature_view(cur, view, version)
                if existing is not None:
                    if existing.source_table != source.name.qualified:
                        raise InvalidConfig(
                            f"feature view {view}/{version} was built from {existing.source_table}, "
                            f"not {source.name}; use that table's own data version"
                        )
                    warnings.warn(
                        f"FeatureView {view.name}/{version} already exists. Skip registration.",
                        UserWarning,
                        stacklevel=2,
                    )
                    return FeatureViewRef(view.name, version)
                if version != source.version:
                    raise InvalidConfig(
                        f"version {version!r} does not match the data version {source.version!r} of {source.name}; "
                        f"a feature view is only built from the data of its own version"
                    )
                query = materialize_feature_view(cur, source.name, view, version)
            with translated(f"registering feature view {view}/{version}"), self._account.transaction() as cur:
                ensure_entity(cur)
                register_feature_view(cur, source.name, view, version, query)
        return FeatureViewRef(view.name, version)

    def generate_dataset(
        self, name: str, version: str, *, source_table: str, feature_view: FeatureViewRef
    ) -> DatasetRef:
        name = datasets.dataset_name(name)
        validate_version(version, "dataset version")
        view = self._view(feature_view.name)
        source = self._source(source_table)
        with translated(f"reading feature view {view}"), self._account.cursor() as cur:
            if find_feature_view(cur, view, feature_view.version) is None:
                raise NotFound(f"feature view {view}/{feature_view.version} is not registered")
        table = version_table(view, feature_view.version)
        spine = f"select {JOIN_KEY}, cast(TS as timestamp) as {TIMESTAMP_COL}, {LABEL_COL} from {source.name.duck}"
        features = ", ".join(f"f.{f}" for f in FEATURES)
        query = (
            f"select s.{JOIN_KEY}, s.{TIMESTAMP_COL}, s.{LABEL_COL}, {features} from ({spine}) s "
            f"asof left join {table.duck} f "
            f"on s.{JOIN_KEY} = f.{JOIN_KEY} and s.{TIMESTAMP_COL} >= f.{TIMESTAMP_COL} "
            f"order by s.{JOIN_KEY}, s.{TIMESTAMP_COL}"
        )
        (ref,) = datasets.create_versions(
            self._account,
            name,
            [datasets.NewVersion(version, query)],
            label_cols=LABEL_COLS,
            exclude_cols=EXCLUDE_COLS,  # keys and timestamps are never features
            key_cols=(JOIN_KEY,),
            source_query=spine,
        )
        return ref

    def split_dataset(self, dataset: DatasetRef, *, test_fraction: float) -> DatasetSplits:
        return datasets.split_versions(self._account, dataset, test_fraction)

    def get_dataset(self, name: str, version: str) -> DatasetRef:
        return datasets.get_version(self._account, name, version)

    def list_dataset_versions(self, name: str) -> list[DatasetVersionInfo]:
        return datasets.list_versions(self._account, name)

    def delete_dataset_version(self, name: str, version: str) -> None:
        datasets.delete_version(self._account, name, version)

    def downstream_models(self, name: str, version: str) -> list[tuple[str, str]]:
        return datasets.downstream_models(self._account, name, version)
