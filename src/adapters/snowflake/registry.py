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


MANAGED_ALIASES = (CHAMPION, PREVIOUS_CHAMPION)
# Aliases Snowflake gives versions itself; they are listed in SHOW VERSIONS' ``aliases`` but never set or unset.
_SYSTEM_ALIASES = frozenset({"DEFAULT", "FIRST", "LAST"})  # snowflake/ml/model/_client/model/model_impl.py


def _user_aliases(row: Mapping[str, Any]) -> frozenset[str]:
    """The aliases set on a version (``aliases`` of SHOW VERSIONS IN MODEL: a JSON array, system ones too)."""
    aliases = row.get("aliases") or "[]"
    return frozenset(json.loads(aliases) if isinstance(aliases, str) else aliases) - _SYSTEM_ALIASES


def _is_default(row: Mapping[str, Any]) -> bool:
    return str(row.get("is_default_version")).lower() == "true"


def _default_of(rows: list[dict[str, Any]]) -> str:
    """The stored name of the default version (every model has one)."""
    return next(str(r["name"]) for r in rows if _is_default(r))


def _managed_aliases(rows: list[dict[str, Any]]) -> dict[str, str]:
    """``CHAMPION`` and ``PREVIOUS_CHAMPION`` → the stored name of the version holding it."""
    return {a: str(r["name"]) for r in rows for a in _user_aliases(r) if a in MANAGED_ALIASES}


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
        evidence = metrics.pop(EVIDENCE_METRIC, None)  # log_version keeps the gate's evidence as a metric
        return ModelVersionInfo(
            model_name=str(model.name),
            version=version,
            created_on=row["created_on"],
            is_default=_is_default(row),
            aliases=_user_aliases(row),
            metrics=metrics,
            dataset=self._upstream_dataset(mv),
            comment=str(row.get("comment") or ""),
            evidence=evidence if isinstance(evidence, dict) else {},
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
            rows = self._rows(model)
            former, held = _default_of(rows), _managed_aliases(rows)
            wanted = {CHAMPION: target}
            if former != target:
                wanted[PREVIOUS_CHAMPION] = former
            elif held.get(PREVIOUS_CHAMPION) not in (None, target):
                wanted[PREVIOUS_CHAMPION] = held[PREVIOUS_CHAMPION]  # re-promoting the default keeps it
            if former == target and held == wanted:
                return  # promoting the champion again changes nothing
            for alias, holder in wanted.items():
                others = _user_aliases(next(r for r in rows if str(r["name"]) == holder)) - set(
                    MANAGED_ALIASES
                )
                if others:
                    raise Conflict(
                        f"model {model_name} version {holder} holds the alias {sorted(others)[0]}; Snowflake "
                        f"allows one alias per model version, so it cannot also be {alias}: ALTER MODEL "
                        f"{sql(normalize_identifier(model_name, 'model'))} VERSION {sql(holder)} UNSET ALIAS first"
                    )
            try:
                self._arrange(model, target, wanted)
            except Exception:
                self._arrange(model, former, held)  # all or nothing: the former default and aliases return
                raise

    def _arrange(self, model: Any, default: str, aliases: Mapping[str, str]) -> None:
        """Make ``default`` the default and ``aliases`` (alias → version) the managed aliases, one alias per
        version at every step: each alias leaves a version that should not hold it before any is set, and
        ``PREVIOUS_CHAMPION`` lands on the former champion before ``CHAMPION`` on the new one."""
        rows = self._rows(model)
        if _default_of(rows) != default:
            model.default = sql(default)
        held = _managed_aliases(rows)
        for alias, holder in held.items():
            if aliases.get(alias) != holder:
                model.version(sql(holder)).unset_alias(alias)
        for alias in (PREVIOUS_CHAMPION, CHAMPION):
            if alias in aliases and held.get(alias) != aliases[alias]:
                model.version(sql(aliases[alias])).set_alias(alias)

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

    def delete_version(self, model_name: str, version: str, *, drop_aliases: bool = False) -> None:
        model = self._model(model_name)
        target = normalize_identifier(version, "model version")
        rows = [] if model is None else [r for r in self._rows(model) if str(r["name"]) == target]
        if not rows:
            raise NotFound(f"model {model_name} has no version {version}")
        row = rows[0]
        if _is_default(row):
            raise Conflict(
                f"model {model_name} version {target} is the default version; promote another first"
            )
        named = _user_aliases(row)
        if named and not drop_aliases:
            raise Conflict(f"model {model_name} version {target} carries aliases {sorted(named)}")
        with vendor_errors(f"model {model_name} version {target}"):
            for alias in sorted(named):  # ModelVersion.unset_alias: ALTER MODEL … VERSION … UNSET ALIAS
                model.version(sql(target)).unset_alias(alias)
            model.delete_version(sql(target))
