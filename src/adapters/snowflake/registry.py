"""ModelRegistry on ``snowflake.ml.registry.Registry``: versions with metrics, lineage, default, aliases, tags.

The model file is the Booster in XGBoost's native format on a stage; it is loaded with ``Booster.load_model``
(never unpickled) and logged with sample input read from the dataset version, so Snowflake records the lineage
from the dataset to the model version. Scoring runs the version in the warehouse (``mv.run``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.snowflake.errors import vendor_errors
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.sql_text import stored_identifier as sql
from domain.errors import AlreadyExists, Conflict, NotFound
from domain.metrics import binary_metrics
from domain.names import normalize_identifier
from domain.refs import DatasetRef, ModelArtifact, ModelVersionInfo

CHAMPION = "CHAMPION"
PREVIOUS_CHAMPION = "PREVIOUS_CHAMPION"
EVIDENCE_METRIC = "evidence"
_SCORE_COLUMN = "output_feature_0"


class SnowflakeModelRegistry:
    """The ModelRegistry port on a real account: models live in ``names.database``.``names.schema``."""

    def __init__(self, session: Any, names: SnowflakeNames | None = None) -> None:
        self._session = session
        self.names = names or SnowflakeNames()
        self._registry: Any = None

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from snowflake.ml.registry import Registry

            with vendor_errors(
                f"model registry {self.names.schema_fqn}", fix="GRANT CREATE MODEL ON SCHEMA to the role"
            ):
                self._registry = Registry(
                    self._session, database_name=self.names.database, schema_name=self.names.schema
                )
        return self._registry

    def _model(self, model_name: str) -> Any:
        name = normalize_identifier(model_name, "model")
        try:
            return self.registry.get_model(sql(name))
        except ValueError:
            return None

    def _dataset(self, ref: DatasetRef) -> Any:
        from snowflake.ml.dataset import load_dataset

        fqn = ref.name if "." in ref.name else f"{self.names.schema_fqn}.{ref.name}"
        with vendor_errors(f"dataset {fqn} version {ref.version!r}"):
            return load_dataset(self._session, fqn, ref.version)

    def _booster(self, artifact: ModelArtifact) -> Any:
        import xgboost

        with vendor_errors(f"model file {artifact.uri}"):
            data = self._session.file.get_stream(artifact.uri).read()
        booster = xgboost.Booster()
        booster.load_model(bytearray(data))
        return booster

    def log_version(
        self,
        *,
        model_name: str,
        version: str,
        artifact: ModelArtifact,
        metrics: Mapping[str, float],
        dataset: DatasetRef,
        comment: str = "",
        evidence: Mapping[str, Any] | None = None,
    ) -> ModelVersionInfo:
        name = normalize_identifier(model_name, "model")
        version_name = normalize_identifier(version, "model version")
        existing = self._model(name)
        if existing is not None and version_name in self._version_names(existing):
            raise AlreadyExists(f"model {name} version {version_name} exists; model versions are immutable")
        booster = self._booster(artifact)
        sample = self._dataset(dataset).read.to_snowpark_dataframe(only_feature_cols=True).limit(100)
        with vendor_errors(f"model {name} version {version_name}"):
            mv = self.registry.log_model(
                booster,
                model_name=sql(name),
                version_name=sql(version_name),
                sample_input_data=sample,  # carries the Dataset lineage
                comment=comment or None,
                conda_dependencies=["xgboost"],
                target_platforms=["WAREHOUSE"],
                options={"enable_explainability": False},
            )
            try:
                for key, value in metrics.items():
                    mv.set_metric(key, float(value))
                if evidence is not None:
                    mv.set_metric(EVIDENCE_METRIC, json.loads(json.dumps(dict(evidence), default=str)))
            except Exception:
                self._undo_log(name, version_name)
                raise
        return self.get_version(name, version_name)

    def _undo_log(self, name: str, version: str) -> None:
        model = self.registry.get_model(sql(name))
        if len(self._version_names(model)) == 1:
            self.registry.delete_model(
                sql(name)
            )  # the first version is the default and cannot be dropped alone
        else:
            model.delete_version(sql(version))

    def _rows(self, model: Any) -> list[dict[str, Any]]:
        frame = model.show_versions()
        return [{str(k).lower(): v for k, v in row.items()} for row in frame.to_dict("records")]

    def _version_names(self, model: Any) -> list[str]:
        return [str(r["name"]) for r in self._rows(model)]

    def _info(self, model: Any, row: Mapping[str, Any]) -> ModelVersionInfo:
        version = str(row["name"])
        mv = model.version(sql(version))
        metrics = dict(mv.show_metrics())
        aliases = row.get("aliases") or "[]"
        alias_set = frozenset(json.loads(aliases) if isinstance(aliases, str) else aliases) - {
            "DEFAULT",
            "FIRST",
            "LAST",
        }
        return ModelVersionInfo(
            model_name=str(model.name),
            version=version,
            created_on=row["created_on"],
            is_default=str(row.get("is_default_version")).lower() == "true",
            aliases=alias_set,
            metrics=metrics,
            dataset=self._upstream_dataset(mv),
            comment=str(row.get("comment") or ""),
        )

    def _upstream_dataset(self, mv: Any) -> DatasetRef | None:
        with vendor_errors("lineage of a model version"):
            nodes = mv.lineage(direction="upstream", domain_filter={"dataset"})
        for node in nodes:
            selected = getattr(node, "selected_version", None)
            if selected is not None:
                return DatasetRef(
                    str(node.fully_qualified_name).rsplit(".", 1)[-1].strip('"'),
                    str(selected.name),
                    tuple(selected.label_cols),
                    tuple(selected.exclude_cols),
                )
        return None

    def get_version(self, model_name: str, version: str) -> ModelVersionInfo:
        model = self._model(model_name)
        wanted = normalize_identifier(version, "model version")
        rows = [] if model is None else [r for r in self._rows(model) if str(r["name"]) == wanted]
        if not rows:
            raise NotFound(f"model {model_name} has no version {version}")
        with vendor_errors(f"model {model_name} version {version}"):
            return self._info(model, rows[0])

    def list_versions(self, model_name: str) -> list[ModelVersionInfo]:
        model = self._model(model_name)
        if model is None:
            return []
        with vendor_errors(f"versions of model {model_name}"):
            return [self._info(model, r) for r in self._rows(model)]

    def default_version(self, model_name: str) -> ModelVersionInfo | None:
        model = self._model(model_name)
        if model is None:
            return None
        with vendor_errors(f"default version of model {model_name}"):
            return self.get_version(model_name, str(model.default.version_name))

    def promote(self, model_name: str, version: str) -> None:
        model = self._model(model_name)
        target = normalize_identifier(version, "model version")
        if model is None or target not in self._version_names(model):
            raise NotFound(f"model {model_name} has no version {version}")
        with vendor_errors(f"promoting model {model_name} version {target}"):
            # version_name is SQL text ("v1" quoted when lower case); the rows and target are stored names.
            previous = normalize_identifier(str(model.default.version_name), "model version")
            if previous == target:
                return
            try:
                model.default = sql(target)
                self._move_alias(model, PREVIOUS_CHAMPION, previous)
                self._move_alias(model, CHAMPION, target)
            except Exception:
                model.default = sql(previous)  # all or nothing: the former default stays the champion
                self._move_alias(model, CHAMPION, previous)
                raise

    def _move_alias(self, model: Any, alias: str, version: str) -> None:
        for row in self._rows(model):
            aliases = row.get("aliases") or "[]"
            if alias in (json.loads(aliases) if isinstance(aliases, str) else aliases):
                model.version(sql(str(row["name"]))).unset_alias(alias)
        model.version(sql(version)).set_alias(alias)

    def set_tag(self, model_name: str, key: str, value: str) -> None:
        model = self._model(model_name)
        if model is None:
            raise NotFound(f"model {model_name} does not exist")
        tag = f"{self.names.schema_fqn}.{sql(normalize_identifier(key, 'tag'))}"
        with vendor_errors(f"tag {tag} on model {model_name}", fix="GRANT CREATE TAG ON SCHEMA to the role"):
            self._session.sql(f"CREATE TAG IF NOT EXISTS {tag}").collect()
            model.set_tag(tag, str(value))

    def score(self, model_name: str, version: str, dataset: DatasetRef) -> dict[str, float]:
        from snowflake.snowpark import functions as F

        model = self._model(model_name)
        if model is None:
            raise NotFound(f"model {model_name} does not exist")
        frame = self._dataset(dataset).read.to_snowpark_dataframe()
        excluded = {c.upper() for c in dataset.non_feature_cols}
        features = [c for c in frame.columns if c.strip('"').upper() not in excluded]
        with vendor_errors(
            f"scoring model {model_name} version {version} on {dataset.name}/{dataset.version}"
        ):
            mv = model.version(sql(normalize_identifier(version, "model version")))
            scored = mv.run(frame.select(*features, F.col(dataset.label)), function_name="predict")
            result = scored.select(F.col(dataset.label), F.col(f'"{_SCORE_COLUMN}"')).to_pandas()
        return binary_metrics(result.iloc[:, 0].to_numpy(), result.iloc[:, 1].to_numpy())

    def delete_model(self, model_name: str) -> None:
        if self._model(model_name) is None:
            raise NotFound(f"Unable to find model {model_name}")
        name = normalize_identifier(model_name, "model")
        with vendor_errors(
            f"model {self.names.qualified(name)}", fix="GRANT OWNERSHIP or drop it as its owner"
        ):
            self.registry.delete_model(sql(name))

    def delete_version(self, model_name: str, version: str) -> None:
        model = self._model(model_name)
        target = normalize_identifier(version, "model version")
        rows = [] if model is None else [r for r in self._rows(model) if str(r["name"]) == target]
        if not rows:
            raise NotFound(f"model {model_name} has no version {version}")
        row = rows[0]
        if str(row.get("is_default_version")).lower() == "true":
            raise Conflict(
                f"model {model_name} version {target} is the default version; promote another first"
            )
        aliases = row.get("aliases") or "[]"
        named = set(json.loads(aliases) if isinstance(aliases, str) else aliases) - {
            "DEFAULT",
            "FIRST",
            "LAST",
        }
        if named:
            raise Conflict(f"model {model_name} version {target} carries aliases {sorted(named)}")
        with vendor_errors(f"model {model_name} version {target}"):
            model.delete_version(sql(target))
