"""Names reach snowflake.ml's Registry as SQL identifiers: a lower-case (quoted) version keeps its case."""

from __future__ import annotations

import inspect

import pandas as pd

from adapters.snowflake.registry import SnowflakeModelRegistry


class FakeVersion:
    def __init__(self, model: FakeModel, name: str) -> None:
        self._model, self.version_name = model, name

    def set_alias(self, alias_name: str) -> None:
        self._model.calls.append(("set_alias", self.version_name, alias_name))

    def unset_alias(self, version_or_alias: str) -> None:
        self._model.calls.append(("unset_alias", self.version_name, version_or_alias))


class FakeModel:
    """Like snowflake.ml's Model: ``default.version_name`` is SQL text, SHOW VERSIONS rows hold stored names."""

    def __init__(self, default: str, versions: list[str]) -> None:
        self.default_sql, self.versions = default, versions
        self.calls: list[tuple[str, ...]] = []

    def show_versions(self) -> pd.DataFrame:
        return pd.DataFrame([{"name": v, "aliases": "[]"} for v in self.versions])

    def version(self, version_or_alias: str) -> FakeVersion:
        return FakeVersion(self, version_or_alias)

    @property
    def default(self) -> FakeVersion:
        return FakeVersion(self, self.default_sql)

    @default.setter
    def default(self, version: str) -> None:
        self.calls.append(("default", version))
        self.default_sql = version


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
        for name in ("version", "set_alias", "unset_alias", "show_versions"):
            if hasattr(fake, name):
                fake_params = list(inspect.signature(getattr(fake, name)).parameters)
                assert fake_params == list(inspect.signature(getattr(real, name)).parameters)


def test_promoting_the_current_lowercase_default_changes_nothing() -> None:
    model = FakeModel('"v1"', ["v1", "v2"])
    _registry(model).promote("M", '"v1"')
    assert model.calls == []


def test_promoting_a_lowercase_version_names_it_quoted() -> None:
    model = FakeModel('"v1"', ["v1", "v2"])
    _registry(model).promote("M", '"v2"')
    assert model.calls == [
        ("default", '"v2"'),
        ("set_alias", '"v1"', "PREVIOUS_CHAMPION"),
        ("set_alias", '"v2"', "CHAMPION"),
    ]


def test_unquoted_names_reach_the_registry_upper_case() -> None:
    model = FakeModel("V1", ["V1", "V2"])
    _registry(model).promote("m", "v2")
    assert model.calls[0] == ("default", "V2")
