"""The Model Registry on the simulator: model files in XGBoost's native format, metadata in the home's DuckDB.

Model and version names are identifiers resolved as Snowflake does (``v20260210_092849`` is stored as
``V20260210_092849``). Logging a version copies the model file into the registry's own area, so deleting run
artifacts never breaks a version; the copy and the rows are written together or not at all. As in Snowflake,
the first version of a model becomes its default; promotion moves the default and the ``CHAMPION`` and
``PREVIOUS_CHAMPION`` aliases in one transaction, one alias per version at every step (Snowflake refuses a
second alias on a version, and so does this registry, with ``Conflict``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.errors import translated
from adapters.simulator.account.folders import path_segment, remove_tree
from adapters.simulator.account.home import LocalAccount
from domain.errors import AlreadyExists, Conflict, InvalidConfig, InvalidData, NotFound
from domain.names import normalize_identifier
from domain.refs import DatasetRef, ModelArtifact, ModelVersionInfo

if TYPE_CHECKING:  # XGBoost is imported where a model file is read: listing versions never loads it
    import xgboost as xgb

CHAMPION = "CHAMPION"
PREVIOUS_CHAMPION = "PREVIOUS_CHAMPION"
MODEL_FORMAT = "xgboost-ubj"
log = logging.getLogger(__name__)

_DDL = (
    "create table if not exists REGISTRY_MODELS(MODEL_NAME VARCHAR, DEFAULT_VERSION VARCHAR, "
    "CREATED_ON TIMESTAMP)",
    "create table if not exists REGISTRY_VERSIONS(MODEL_NAME VARCHAR, VERSION VARCHAR, CREATED_ON TIMESTAMP, "
    "COMMENT VARCHAR, METRICS VARCHAR, EVIDENCE VARCHAR, DATASET VARCHAR, MODEL_PATH VARCHAR)",
    "create table if not exists REGISTRY_ALIASES(MODEL_NAME VARCHAR, ALIAS VARCHAR, VERSION VARCHAR)",
    "create table if not exists REGISTRY_TAGS(MODEL_NAME VARCHAR, TAG_NAME VARCHAR, TAG_VALUE VARCHAR)",
    # Read by the feature store to find the models trained on a dataset version: keep this exact shape.
    "create table if not exists REGISTRY_LINEAGE(MODEL_NAME VARCHAR, VERSION VARCHAR, DATASET_NAME VARCHAR, "
    "DATASET_VERSION VARCHAR)",
)


@contextlib.contextmanager
def _model_errors(what: str) -> Iterator[None]:
    """The registry's own translation on top of the simulator's: a model file XGBoost cannot read."""
    with translated(what):
        try:
            yield
        except Exception as exc:
            # XGBoost loads only where a model file is read (listing versions must not pay a second for it);
            # where it is not loaded, nothing raised its error.
            xgb = sys.modules.get("xgboost")
            if xgb is None or not isinstance(exc, xgb.core.XGBoostError):
                raise
            raise InvalidData(f"{what}: not a readable XGBoost model: {str(exc).splitlines()[0]}") from exc


def _model_parts(model: str, version: str) -> tuple[str, str, str, str]:
    """Where a version's model file lives, relative to the files area."""
    return "registry", path_segment(model), path_segment(version), "model.ubj"


class SimModelRegistry:
    """``domain.ports.ModelRegistry`` on the simulator home."""

    def __init__(self, account: LocalAccount) -> None:
        self.account = account
        with _model_errors("creating the registry tables"), account.cursor() as cur:
            for ddl in _DDL:
                cur.execute(ddl)
        self._remove_unlogged_folders()

    def _remove_unlogged_folders(self) -> None:
        """Version folders no version row refers to: a crash between making the folder (or copying the file)
        and the commit that logs the version left them; nothing can reach them, so they go. Under the account
        lock, which ``log_version`` holds from making its folder to its commit, so no log in flight is swept."""
        root = self.account.files / "registry"
        with _model_errors(f"removing unlogged version folders under {root}"), self.account.cursor() as cur:
            if not root.is_dir():
                return
            rows = cur.execute("select MODEL_NAME, VERSION, MODEL_PATH from REGISTRY_VERSIONS").fetchall()
            logged = {
                self._model_file(dict(zip(("MODEL_NAME", "VERSION", "MODEL_PATH"), r, strict=True))).parent
                for r in rows
            }
            for folder in (v for m in root.iterdir() if m.is_dir() for v in m.iterdir() if v.is_dir()):
                if folder not in logged:
                    log.warning("removing registry folder %s: no model version was logged in it", folder)
                    shutil.rmtree(folder)

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
        model = normalize_identifier(model_name, "model")
        name = normalize_identifier(version, "model version")
        if artifact.format != MODEL_FORMAT:
            raise InvalidConfig(
                f"model artifact {artifact.uri} has format {artifact.format!r}; the registry stores "
                f"{MODEL_FORMAT!r} (XGBoost's native format) only"
            )
        source = Path(artifact.uri)
        if not source.is_file():
            raise NotFound(f"model file {artifact.uri} does not exist")
        import xgboost as xgb

        with _model_errors(f"checking model file {artifact.uri}"):
            xgb.Booster(model_file=str(source))
        try:
            metrics_json = json.dumps({k: float(v) for k, v in metrics.items()})
            evidence_json = json.dumps(dict(evidence or {}), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidData(
                f"metrics and evidence of {model} version {name} must be JSON values: {exc}"
            ) from exc
        target = self.account.files.joinpath(*_model_parts(model, name))
        now = catalog_now()
        copying = False
        try:
            with _model_errors(f"logging {model} version {name}"), self.account.transaction() as cur:
                if self._version_row(cur, model, name) is not None:
                    raise AlreadyExists(
                        f"Model {model} version {name} already existed; versions are immutable, "
                        f"log a new version name"
                    )
                # The folder is made under the lock: see _remove_unlogged_folders.
                self.account.path(*_model_parts(model, name))
                copying = True  # from here the folder is this version's: a failure takes it back
                shutil.copyfile(source, target)
                if (
                    cur.execute("select 1 from REGISTRY_MODELS where MODEL_NAME = ?", [model]).fetchone()
                    is None
                ):
                    # Snowflake: CREATE MODEL ... WITH VERSION makes the first version the default.
                    cur.execute("insert into REGISTRY_MODELS values (?, ?, ?)", [model, name, now])
                cur.execute(
                    "insert into REGISTRY_VERSIONS values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        model,
                        name,
                        now,
                        comment,
                        metrics_json,
                        evidence_json,
                        json.dumps(dataset.to_dict()),
                        # Relative to the files area, so a copied or moved home uses its own files.
                        target.relative_to(self.account.files).as_posix(),
                    ],
                )
                cur.execute(
                    "insert into REGISTRY_LINEAGE values (?, ?, ?, ?)",
                    [model, name, dataset.name, dataset.version],
                )
        except BaseException:
            if copying:  # a partial (or 0-byte, on a full disk) copy goes with its folder
                shutil.rmtree(target.parent, ignore_errors=True)
            raise
        return self._get(model, name)

    def get_version(self, model_name: str, version: str) -> ModelVersionInfo:
        """A version by name or by alias (aliases are tried first, as ``Model.version`` does)."""
        return self._get(
            normalize_identifier(model_name, "model"), normalize_identifier(version, "model version")
        )

    def _get(self, model: str, name: str) -> ModelVersionInfo:
        with _model_errors(f"reading {model} version {name}"), self.account.cursor() as cur:
            alias = cur.execute(
                "select VERSION from REGISTRY_ALIASES where MODEL_NAME = ? and ALIAS = ?", [model, name]
            ).fetchone()
            found = [v for v in self._infos(cur, model) if v.version == (alias[0] if alias else name)]
        if not found:
            raise NotFound(f"Unable to find version or alias with name {name} in model {model}")
        return found[0]

    def list_versions(self, model_name: str) -> list[ModelVersionInfo]:
        model = normalize_identifier(model_name, "model")
        with _model_errors(f"listing versions of {model}"), self.account.cursor() as cur:
            return self._infos(cur, model)

    def default_version(self, model_name: str) -> ModelVersionInfo | None:
        return next((v for v in self.list_versions(model_name) if v.is_default), None)

    def aliases(self, model_name: str) -> dict[str, str]:
        """Alias → version of one model."""
        return self._pairs(
            "select ALIAS, VERSION from REGISTRY_ALIASES where MODEL_NAME = ?", model_name, "aliases"
        )

    def promote(self, model_name: str, version: str) -> None:
        """Make ``version`` the default and the ``CHAMPION``; the former default becomes ``PREVIOUS_CHAMPION``."""
        model = normalize_identifier(model_name, "model")
        name = normalize_identifier(version, "model version")
        with _model_errors(f"promoting {model} version {name}"), self.account.transaction() as cur:
            if self._version_row(cur, model, name) is None:
                raise NotFound(f"Unable to find version or alias with name {name} in model {model}")
            (former,) = cur.execute(
                "select DEFAULT_VERSION from REGISTRY_MODELS where MODEL_NAME = ?", [model]
            ).fetchone()
            champion = cur.execute(
                "select VERSION from REGISTRY_ALIASES where MODEL_NAME = ? and ALIAS = ?", [model, CHAMPION]
            ).fetchone()
            if former == name and champion == (name,):
                return  # promoting the champion again changes nothing
            cur.execute("update REGISTRY_MODELS set DEFAULT_VERSION = ? where MODEL_NAME = ?", [name, model])
            # As on Snowflake, one alias per version at every step: CHAMPION leaves its holder and, when the
            # default moves (or the promoted version holds it), PREVIOUS_CHAMPION leaves its own before either is set.
            cur.execute(
                "delete from REGISTRY_ALIASES where MODEL_NAME = ? and (ALIAS = ? or ALIAS = ? and (? or VERSION = ?))",
                [model, CHAMPION, PREVIOUS_CHAMPION, former != name, name],
            )
            if former != name:
                self._set_alias(cur, model, PREVIOUS_CHAMPION, former)
            self._set_alias(cur, model, CHAMPION, name)

    def set_tag(self, model_name: str, key: str, value: str) -> None:
        """Tags belong to the model (not a version), as in Snowflake."""
        model = normalize_identifier(model_name, "model")
        tag = normalize_identifier(key, "tag")
        with _model_errors(f"tagging {model}"), self.account.transaction() as cur:
            if cur.execute("select 1 from REGISTRY_MODELS where MODEL_NAME = ?", [model]).fetchone() is None:
                raise NotFound(f"Unable to find model {model}")
            cur.execute("delete from REGISTRY_TAGS where MODEL_NAME = ? and TAG_NAME = ?", [model, tag])
            cur.execute("insert into REGISTRY_TAGS values (?, ?, ?)", [model, tag, str(value)])

    def tags(self, model_name: str) -> dict[str, str]:
        """Tag → value of one model."""
        return self._pairs(
            "select TAG_NAME, TAG_VALUE from REGISTRY_TAGS where MODEL_NAME = ?", model_name, "tags"
        )

    def _pairs(self, query: str, model_name: str, what: str) -> dict[str, str]:
        model = normalize_identifier(model_name, "model")
        with _model_errors(f"reading {what} of {model}"), self.account.cursor() as cur:
            return dict(cur.execute(query, [model]).fetchall())

    def score(self, model_name: str, version: str, dataset: DatasetRef) -> dict[str, float]:
        """Re-score a stored version on a dataset version, where the data is; metric names are unprefixed."""
        model = normalize_identifier(model_name, "model")
        name = normalize_identifier(version, "model version")
        with _model_errors(f"reading {model} version {name}"), self.account.cursor() as cur:
            row = self._version_row(cur, model, name)
        if row is None:
            raise NotFound(f"Unable to find version or alias with name {name} in model {model}")
        from adapters.simulator.account.labelled_data import evaluate, read_dataset

        booster = self._load(model, name, self._model_file(row))
        with _model_errors(f"scoring {model} version {name} on {dataset.name} version {dataset.version}"):
            return evaluate(booster, read_dataset(self.account.files, dataset))

    @staticmethod
    def _load(model: str, name: str, path: Path) -> xgb.Booster:
        """A stored version's booster; a missing or damaged file names the file, the version and the repair."""
        repair = (
            f"set another default (models --set-default VERSION) or drop this version "
            f"(models --drop {name} --force)"
        )
        if not path.is_file():
            raise NotFound(f"the model file {path} of {model} version {name} is missing: {repair}")
        import xgboost as xgb

        try:
            return xgb.Booster(model_file=str(path))
        except (xgb.core.XGBoostError, UnicodeDecodeError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidData(
                f"the model file {path} of {model} version {name} is damaged ({reason}): {repair}"
            ) from exc

    def delete_version(self, model_name: str, version: str, *, drop_aliases: bool = False) -> None:
        """Drop a version and its file; the default version is refused, and so is an aliased one unless
        ``drop_aliases``."""
        model = normalize_identifier(model_name, "model")
        name = normalize_identifier(version, "model version")
        with _model_errors(f"deleting {model} version {name}"), self.account.transaction() as cur:
            row = self._version_row(cur, model, name)
            if row is None:
                raise NotFound(f"Unable to find version or alias with name {name} in model {model}")
            (default,) = cur.execute(
                "select DEFAULT_VERSION from REGISTRY_MODELS where MODEL_NAME = ?", [model]
            ).fetchone()
            if default == name:
                raise Conflict(
                    f"cannot drop version {name} of model {model}: it is the default version; "
                    f"promote another version first"
                )
            held = [
                a
                for (a,) in cur.execute(
                    "select ALIAS from REGISTRY_ALIASES where MODEL_NAME = ? and VERSION = ? order by ALIAS",
                    [model, name],
                ).fetchall()
            ]
            if held and not drop_aliases:
                raise Conflict(f"cannot drop version {name} of model {model}: it holds the aliases {held}")
            for table in ("REGISTRY_VERSIONS", "REGISTRY_LINEAGE", "REGISTRY_ALIASES"):
                cur.execute(f"delete from {table} where MODEL_NAME = ? and VERSION = ?", [model, name])
        # The rows are gone; the file is only reachable through them, so removing it last is safe.
        remove_tree(self._model_file(row).parent, f"{model} version {name}")

    def delete_model(self, model_name: str) -> None:
        """Drop a model with every version, alias, tag and lineage row, then its files (``DROP MODEL``)."""
        model = normalize_identifier(model_name, "model")
        with _model_errors(f"deleting model {model}"), self.account.transaction() as cur:
            if not cur.execute("select 1 from REGISTRY_MODELS where MODEL_NAME = ?", [model]).fetchone():
                raise NotFound(f"Unable to find model {model}")
            for table in (
                "REGISTRY_VERSIONS",
                "REGISTRY_ALIASES",
                "REGISTRY_TAGS",
                "REGISTRY_LINEAGE",
                "REGISTRY_MODELS",
            ):
                cur.execute(f"delete from {table} where MODEL_NAME = ?", [model])
        remove_tree(self.account.files / "registry" / path_segment(model), f"model {model}")

    def _model_file(self, row: Mapping[str, Any]) -> Path:
        """The version's model file in THIS home. Rows written before paths were stored relative hold an
        absolute path, possibly into another home this one was copied from: rebuild theirs from the names."""
        stored = Path(row["MODEL_PATH"])
        if stored.is_absolute():
            return self.account.files.joinpath(*_model_parts(row["MODEL_NAME"], row["VERSION"]))
        return self.account.files / stored

    # --- rows ---

    @staticmethod
    def _version_row(cur: duckdb.DuckDBPyConnection, model: str, name: str) -> dict[str, Any] | None:
        rel = cur.execute(
            "select * from REGISTRY_VERSIONS where MODEL_NAME = ? and VERSION = ?", [model, name]
        )
        columns = [d[0] for d in rel.description]
        found = rel.fetchone()
        return None if found is None else dict(zip(columns, found, strict=True))

    @staticmethod
    def _set_alias(cur: duckdb.DuckDBPyConnection, model: str, alias: str, version: str) -> None:
        """``ALTER MODEL … VERSION … SET ALIAS``: refused, as Snowflake does, on a version that holds an alias
        (ALTER MODEL docs: "A version can have at most one alias") or for an alias another version holds."""
        held = cur.execute(
            "select ALIAS, VERSION from REGISTRY_ALIASES where MODEL_NAME = ? and (VERSION = ? or ALIAS = ?)",
            [model, version, alias],
        ).fetchone()
        if held is not None:
            held_alias, holder = held
            raise Conflict(
                f"model {model} version {holder} holds the alias {held_alias}; Snowflake allows one alias per "
                f"model version and each alias once per model, so version {version} cannot become {alias}: "
                f"ALTER MODEL {model} VERSION {holder} UNSET ALIAS first"
            )
        cur.execute("insert into REGISTRY_ALIASES values (?, ?, ?)", [model, alias, version])

    @staticmethod
    def _infos(cur: duckdb.DuckDBPyConnection, model: str) -> list[ModelVersionInfo]:
        rows = cur.execute(
            """
            select v.VERSION, v.CREATED_ON, v.COMMENT, v.METRICS, v.EVIDENCE, v.DATASET,
                   m.DEFAULT_VERSION = v.VERSION,
                   coalesce((select list(a.ALIAS order by a.ALIAS) from REGISTRY_ALIASES a
                             where a.MODEL_NAME = v.MODEL_NAME and a.VERSION = v.VERSION), [])
            from REGISTRY_VERSIONS v join REGISTRY_MODELS m using (MODEL_NAME)
            where v.MODEL_NAME = ?
            order by v.CREATED_ON, v.VERSION
            """,
            [model],
        ).fetchall()
        return [
            ModelVersionInfo(
                model_name=model,
                version=version,
                created_on=created.replace(tzinfo=UTC),
                is_default=bool(is_default),
                aliases=frozenset(aliases),
                metrics=json.loads(metrics),
                dataset=DatasetRef.from_dict(json.loads(dataset)),
                comment=comment or "",
                evidence=json.loads(evidence) if evidence else {},
            )
            for version, created, comment, metrics, evidence, dataset, is_default, aliases in rows
        ]
