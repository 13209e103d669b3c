"""Promotion on snowflake.ml's Registry: CHAMPION from the first promotion on, one alias per version at every
step, all or nothing; names reach the library as SQL identifiers (a lower-case, quoted version keeps its case).

The fake model keeps what Snowflake keeps and refuses what Snowflake refuses (ALTER MODEL docs: "A version can
have at most one alias"; an alias is unique in the model), behind the library's own method signatures.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from snowflake.ml._internal.utils.sql_identifier import SqlIdentifier
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.snowflake.registry import SnowflakeModelRegistry
from domain.errors import BackendUnavailable, Conflict
from tests.unit.snowflake.fixtures.library_rows import model_version_row

T0 = datetime(2026, 2, 10, 9, 28, 49, tzinfo=UTC)


class FakeVersion:
    """snowflake/ml/model/_client/model/model_version_impl.py: ``ModelVersion``. ``set_alias`` runs
    ``ALTER MODEL m VERSION <this version> SET ALIAS = a`` and ``unset_alias(version_or_alias)`` runs ``ALTER MODEL
    m VERSION <version_or_alias> UNSET ALIAS`` (sql/model_version.py: ``ModelVersionSQLClient``)."""

    def __init__(self, model: FakeModel, stored_name: str) -> None:
        self._model, self._stored = model, stored_name

    @property
    def version_name(self) -> str:
        return SqlIdentifier(
            self._stored, case_sensitive=True
        ).identifier()  # SQL text, as the library gives it

    def set_alias(self, alias_name: str) -> None:
        self._model.alter(("set_alias", self._stored, SqlIdentifier(alias_name).resolved()))

    def unset_alias(self, version_or_alias: str) -> None:
        self._model.alter(("unset_alias", self._model.resolve(version_or_alias)))

    def show_metrics(self) -> dict[str, Any]:
        """``ModelVersion.show_metrics``: every metric ``set_metric`` stored, JSON values as they were set."""
        return dict(self._model.metrics.get(self._stored, {}))

    def lineage(self, direction: str = "downstream", domain_filter: set[str] | None = None) -> list[Any]:
        """``LineageNode.lineage`` (snowflake/ml/lineage/lineage_node.py): no upstream dataset here."""
        return []


class FakeModel:
    """snowflake/ml/model/_client/model/model_impl.py: ``Model``. Versions are held by stored name with their
    one alias; ``show_versions`` returns library-shaped SHOW VERSIONS IN MODEL rows."""

    def __init__(self, versions: list[str], default: str | None = None) -> None:
        self.name = "M"
        self.created = {v: T0 + timedelta(hours=i) for i, v in enumerate(versions)}
        self.default_version = default or versions[0]
        self.alias_of: dict[str, str] = {}  # version -> its one alias
        self.metrics: dict[str, dict[str, Any]] = {}  # version -> what show_metrics returns
        self.calls: list[tuple[str, ...]] = []
        self.fail_on: tuple[str, ...] | None = (
            None  # a statement Snowflake refuses, e.g. ("set_alias", "V2", …)
        )

    def alter(self, statement: tuple[str, ...]) -> None:
        self.calls.append(statement)
        if statement == self.fail_on:
            raise SnowparkSQLException(f"injected failure of {statement}", sql_error_code=3001)
        if statement[0] == "default":
            self.default_version = statement[1]
        elif statement[0] == "unset_alias":
            self.alias_of.pop(statement[1], None)
        elif statement[0] == "drop_version":
            pass  # recorded in calls; delete_version forgets the version
        else:
            _, version, alias = statement
            if version in self.alias_of:
                raise SnowparkSQLException(
                    f"version {version} already has the alias {self.alias_of[version]}; a version can have at "
                    "most one alias"
                )
            if alias in self.alias_of.values():
                raise SnowparkSQLException(f"alias {alias} already exists in model {self.name}")
            self.alias_of[version] = alias

    def resolve(self, version_or_alias: str) -> str:
        """As ``Model.version`` does: an alias first, then a version name (SQL identifier → stored name)."""
        wanted = SqlIdentifier(version_or_alias)
        for version, alias in self.alias_of.items():
            if SqlIdentifier(alias) == wanted:
                return version
        if wanted.resolved() not in self.created:
            raise ValueError(f"Unable to find version or alias with name {wanted.identifier()} in model M")
        return wanted.resolved()

    def show_versions(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                model_version_row(
                    v,
                    created_on=created,
                    aliases=[a for a in (self.alias_of.get(v),) if a]
                    + (["DEFAULT"] if v == self.default_version else []),
                    is_default=v == self.default_version,
                )
                for v, created in self.created.items()
            ]
        )

    def version(self, version_or_alias: str) -> FakeVersion:
        return FakeVersion(self, self.resolve(version_or_alias))

    @property
    def default(self) -> FakeVersion:
        return FakeVersion(self, self.default_version)

    @default.setter
    def default(self, version: str) -> None:
        self.alter(("default", self.resolve(version)))

    def aliases(self) -> dict[str, str]:
        return {alias: version for version, alias in self.alias_of.items()}

    def delete_version(self, version_name: str) -> None:
        """``Model.delete_version``: ``ALTER MODEL m DROP VERSION v``; Snowflake refuses the default version."""
        version = self.resolve(version_name)
        if version == self.default_version:
            raise SnowparkSQLException(f"cannot drop the default version {version} of model {self.name}")
        self.alter(("drop_version", version))
        del self.created[version]


class FakeRegistry:
    def __init__(self, model: FakeModel) -> None:
        self.model = model

    def get_model(self, model_name: str) -> FakeModel:
        return self.model


def _registry(model: FakeModel) -> SnowflakeModelRegistry:
    registry = SnowflakeModelRegistry(None)
    registry._registry = FakeRegistry(model)
    return registry


def test_the_fakes_take_the_arguments_of_the_real_classes() -> None:
    from snowflake.ml.model._client.model.model_impl import Model
    from snowflake.ml.model._client.model.model_version_impl import ModelVersion

    for fake, real in ((FakeModel, Model), (FakeVersion, ModelVersion)):
        for name in (
            "version",
            "set_alias",
            "unset_alias",
            "show_versions",
            "show_metrics",
            "lineage",
            "delete_version",
        ):
            if hasattr(fake, name):
                fake_params = list(inspect.signature(getattr(fake, name)).parameters)
                assert fake_params == list(inspect.signature(getattr(real, name)).parameters)


def test_the_first_promotion_makes_the_first_version_the_champion() -> None:
    model = FakeModel(["V1"])
    _registry(model).promote("M", "v1")
    assert model.aliases() == {"CHAMPION": "V1"}


def test_the_third_promotion_moves_both_aliases_one_alias_per_version() -> None:
    model = FakeModel(["V1", "V2", "V3"])
    registry = _registry(model)

    for version in ("v1", "v2", "v3"):
        registry.promote("M", version)

    assert model.default_version == "V3"
    assert model.aliases() == {"CHAMPION": "V3", "PREVIOUS_CHAMPION": "V2"}


def test_aliases_leave_the_former_champion_before_it_becomes_previous_champion() -> None:
    model = FakeModel(["V1", "V2", "V3"], default="V2")
    model.alias_of = {"V1": "PREVIOUS_CHAMPION", "V2": "CHAMPION"}

    _registry(model).promote("M", "v3")

    assert model.calls == [
        ("default", "V3"),
        ("unset_alias", "V1"),
        ("unset_alias", "V2"),
        ("set_alias", "V2", "PREVIOUS_CHAMPION"),
        ("set_alias", "V3", "CHAMPION"),
    ]


def test_promoting_the_previous_champion_back_swaps_the_aliases() -> None:
    model = FakeModel(["V1", "V2"], default="V2")
    model.alias_of = {"V1": "PREVIOUS_CHAMPION", "V2": "CHAMPION"}

    _registry(model).promote("M", "v1")

    assert model.default_version == "V1"
    assert model.aliases() == {"CHAMPION": "V1", "PREVIOUS_CHAMPION": "V2"}


def test_a_failed_promotion_restores_the_former_default_and_aliases() -> None:
    model = FakeModel(["V1", "V2", "V3"], default="V2")
    model.alias_of = {"V1": "PREVIOUS_CHAMPION", "V2": "CHAMPION"}
    model.fail_on = ("set_alias", "V3", "CHAMPION")

    with pytest.raises(BackendUnavailable, match="promoting model M version V3"):
        _registry(model).promote("M", "v3")

    assert model.default_version == "V2"
    assert model.aliases() == {"CHAMPION": "V2", "PREVIOUS_CHAMPION": "V1"}


def test_a_version_holding_another_alias_is_refused_before_anything_changes() -> None:
    model = FakeModel(["V1", "V2"])
    model.alias_of = {"V2": "STAGING"}

    with pytest.raises(Conflict, match=r"version V2 holds the alias STAGING; .*one alias per model version"):
        _registry(model).promote("M", "v2")

    assert model.calls == [] and model.default_version == "V1"


def test_promoting_the_current_champion_changes_nothing() -> None:
    model = FakeModel(["v1", "v2"])
    model.alias_of = {"v1": "CHAMPION"}
    _registry(model).promote("M", '"v1"')
    assert model.calls == []


def test_a_lowercase_version_reaches_the_library_quoted() -> None:
    model = FakeModel(["v1", "v2"])
    model.alias_of = {"v1": "CHAMPION"}

    _registry(model).promote("M", '"v2"')

    assert model.default_version == "v2"
    assert model.aliases() == {"CHAMPION": "v2", "PREVIOUS_CHAMPION": "v1"}


def test_the_gate_evidence_stored_as_a_metric_is_read_back_as_evidence_not_as_a_metric() -> None:
    model = FakeModel(["V1"])
    model.metrics["V1"] = {"test_roc_auc": 0.91, "evidence": {"gate": '{"outcome": "promote"}'}}
    (info,) = _registry(model).list_versions("M")
    assert info.metrics == {"test_roc_auc": 0.91}
    assert info.evidence == {"gate": '{"outcome": "promote"}'}


def test_an_aliased_version_is_dropped_after_its_alias_is_unset_when_asked() -> None:
    model = FakeModel(["V1", "V2"])
    registry = _registry(model)
    for version in ("v1", "v2"):
        registry.promote("M", version)

    with pytest.raises(Conflict, match="carries aliases"):
        registry.delete_version("M", "v1")
    registry.delete_version("M", "v1", drop_aliases=True)

    assert model.calls[-2:] == [("unset_alias", "V1"), ("drop_version", "V1")]
    assert list(model.created) == ["V2"] and model.aliases() == {"CHAMPION": "V2"}
