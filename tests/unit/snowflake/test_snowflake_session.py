"""Connections come from connections.toml by name or from env vars; what is missing is named exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.snowflake.session import SnowflakeNames, connection_parameters, connections_file
from domain.errors import BackendUnavailable, InvalidName
from domain.names import ObjectNames


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "connections.toml"
    path.write_text(text)
    return path


def test_named_connection_is_read_from_connections_toml(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[ci]\naccount = "acme"\nuser = "bot"\npassword = "s3cret!"\n')
    assert connection_parameters("ci", path=path) == {"account": "acme", "user": "bot", "password": "s3cret!"}


def test_missing_file_names_the_path_and_the_entry(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match=r"'ci' not found: .*connections.toml does not exist"):
        connection_parameters("ci", path=tmp_path / "connections.toml")


def test_unknown_entry_lists_the_known_ones(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[dev]\naccount = "a"\nuser = "u"\npassword = "p"\n')
    with pytest.raises(BackendUnavailable, match=r"'ci' is not in .*known entries: \['dev'\]"):
        connection_parameters("ci", path=path)


def test_entry_without_credentials_says_what_is_missing_without_echoing_values(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[ci]\naccount = "acme"\nuser = "bot"\n')
    with pytest.raises(BackendUnavailable, match=r"lacks password \| authenticator"):
        connection_parameters("ci", path=path)


def test_env_vars_make_a_connection_when_no_name_is_given() -> None:
    env = {"SNOWFLAKE_ACCOUNT": "acme", "SNOWFLAKE_USER": "bot", "SNOWFLAKE_PASSWORD": "pw-123456"}
    assert connection_parameters(env=env) == {"account": "acme", "user": "bot", "password": "pw-123456"}


def test_missing_env_vars_are_named_and_the_connection_option_suggested() -> None:
    with pytest.raises(BackendUnavailable) as info:
        connection_parameters(env={"SNOWFLAKE_USER": "bot"})
    text = str(info.value)
    assert "SNOWFLAKE_ACCOUNT" in text and "SNOWFLAKE_PASSWORD" in text and "--connection NAME" in text
    assert "SNOWFLAKE_USER" not in text.split("missing:")[1]


def test_connections_file_honours_snowflake_home(tmp_path: Path) -> None:
    assert connections_file({"SNOWFLAKE_HOME": str(tmp_path)}) == tmp_path / "connections.toml"


def test_names_default_to_the_guide_and_derive_stages() -> None:
    names = SnowflakeNames()
    assert names.dag_stage == "@SNOWBANK.DEV.DAG_STAGE"
    assert names.job_stage == "@SNOWBANK.DEV.JOB_STAGE"
    assert names.source_table_fqn == "SNOWBANK.DATA.MORTGAGE_LENDING_DEMO_DATA"


def test_names_are_built_from_the_one_object_names() -> None:
    names = SnowflakeNames.of(ObjectNames(database="ci_db", compute_pool="CI_POOL"))
    assert (names.database, names.compute_pool, names.schema) == ("CI_DB", "CI_POOL", "DEV")
    assert names.job_stage == "@CI_DB.DEV.JOB_STAGE"


def test_names_refuse_sql_injection() -> None:
    with pytest.raises(InvalidName, match="database"):
        SnowflakeNames(database='x"; drop database y; --')


def test_names_are_held_as_sql_text_and_resolved_as_snowflake_stores_them() -> None:
    names = SnowflakeNames(database="snowbank", schema='"Dev Schema"', data_schema='"DATA"')
    assert (names.database, names.schema, names.data_schema) == ("SNOWBANK", '"Dev Schema"', "DATA")
    assert names.schema_fqn == 'SNOWBANK."Dev Schema"'
    assert (names.resolved("database"), names.resolved("schema")) == ("SNOWBANK", "Dev Schema")
