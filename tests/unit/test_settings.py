"""Settings are read once, from defaults < file < environment < flags, with clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.settings import load_settings, parse_assignments, with_pipeline_overrides
from domain.errors import InvalidConfig, InvalidName
from domain.graph import OverlapPolicy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_guides_names_on_the_simulator() -> None:
    s = load_settings(env={})

    assert s.backend == "simulator" and s.home is None
    assert (s.names.database, s.names.schema, s.names.warehouse) == ("SNOWBANK", "DEV", "DEMO_WH")
    assert s.pipeline.metric_name == "test_accuracy" and s.pipeline.metric_threshold == 0.7


def test_the_guides_environment_variables_set_object_names() -> None:
    s = load_settings(env={"SNOWFLAKE_DATABASE": "ML", "SNOWFLAKE_COMPUTE_POOL": "BIG_POOL"})

    assert s.names.database == "ML"
    assert s.pipeline.compute_pool == "BIG_POOL"


def test_flags_win_over_environment_which_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'backend = "snowflake"\nhome = "/from/file"\nconnection = "file"\n')

    s = load_settings(config_file=path, env={"APP_HOME": "/from/env"}, connection="flag")

    assert s.backend == "snowflake"
    assert s.home == Path("/from/env")
    assert s.connection == "flag"


def test_file_sections_configure_names_graph_and_pipeline(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[names]\nschema = "PROD"\n[graph]\nname = "NIGHTLY"\noverlap_policy = "allow_child_overlap"\n'
        "[pipeline]\nmetric_threshold = 0.8\n",
    )

    s = load_settings(config_file=path, env={})

    assert s.names.schema == "PROD"
    assert s.graph.name == "NIGHTLY" and s.graph.overlap_policy is OverlapPolicy.ALLOW_CHILD_OVERLAP
    assert s.pipeline.metric_threshold == 0.8


def test_an_unknown_file_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, '[names]\ndatabse = "X"\n')

    with pytest.raises(InvalidConfig, match=r"names\.databse.*did you mean database"):
        load_settings(config_file=path, env={})


def test_an_unknown_pipeline_key_is_rejected_not_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "[pipeline]\nmetric_treshold = 0.8\n")

    with pytest.raises(InvalidConfig, match="metric_treshold"):
        load_settings(config_file=path, env={})


def test_a_missing_or_broken_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match=r"does not exist"):
        load_settings(config_file=tmp_path / "nope.toml", env={})
    with pytest.raises(InvalidConfig, match=r"not valid TOML"):
        load_settings(config_file=write(tmp_path, "backend = "), env={})


def test_an_unknown_backend_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidConfig, match="simulator, snowflake"):
        load_settings(env={"APP_BACKEND": "duckdb"})


def test_an_object_name_that_smuggles_sql_is_refused() -> None:
    with pytest.raises(InvalidName, match=r"names\.database"):
        load_settings(env={"SNOWFLAKE_DATABASE": 'x"; drop table t; --'})


def test_an_out_of_range_retry_count_names_the_range(tmp_path: Path) -> None:
    path = write(tmp_path, "[graph]\ntask_auto_retry_attempts = 31\n")

    with pytest.raises(InvalidConfig, match=r"0\.\.30"):
        load_settings(config_file=path, env={})


def test_command_line_assignments_are_typed_by_the_pipeline_config() -> None:
    s = with_pipeline_overrides(load_settings(env={}), parse_assignments(["metric_threshold=0.85"]))

    assert s.pipeline.metric_threshold == 0.85


def test_an_assignment_without_equals_is_explained() -> None:
    with pytest.raises(InvalidConfig, match="KEY=VALUE"):
        parse_assignments(["metric_threshold"])


def test_the_environment_beats_the_file_for_the_compute_pool(tmp_path: Path) -> None:
    path = write(tmp_path, '[pipeline]\ncompute_pool = "FILE_POOL"\n')

    s = load_settings(config_file=path, env={"SNOWFLAKE_COMPUTE_POOL": "ENV_POOL"})

    assert s.pipeline.compute_pool == "ENV_POOL"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[graph]\ntask_timeout_seconds = "10"\n', "graph.task_timeout_seconds"),
        ("[graph]\ntask_auto_retry_attempts = true\n", "graph.task_auto_retry_attempts"),
        ("[graph]\ntask_timeout_seconds = 1.5\n", "graph.task_timeout_seconds"),
        ("[names]\ncompute_pool_max_nodes = 1.5\n", "names.compute_pool_max_nodes"),
        ('[names]\ncompute_pool_max_nodes = "2"\n', "names.compute_pool_max_nodes"),
        ("[names]\ndatabase = 5\n", "names.database"),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_its_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(InvalidConfig, match=re.escape(key)):
        load_settings(config_file=write(tmp_path, text), env={})


def test_a_config_file_that_is_a_folder_or_not_text_is_explained(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="cannot be read"):
        load_settings(config_file=tmp_path, env={})
    binary = tmp_path / "bad.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(InvalidConfig, match="cannot be read"):
        load_settings(config_file=binary, env={})


def test_the_readme_configuration_example_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]

    s = load_settings(config_file=write(tmp_path, example), env={})

    assert s.pipeline.compute_pool == "DEMO_POOL" and s.graph.name == "MORTGAGE_PIPELINE"


def test_names_record_which_fields_the_file_and_environment_set(tmp_path: Path) -> None:
    path = write(tmp_path, '[names]\nrole = "ANALYST"\n')

    s = load_settings(config_file=path, env={"SNOWFLAKE_WAREHOUSE": "CI_WH"})

    assert s.names.given == frozenset({"role", "warehouse"})
    assert load_settings(env={}).names.given == frozenset()


def test_which_names_were_given_is_not_a_config_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[names]\ngiven = ["role"]\n')

    with pytest.raises(InvalidConfig, match=r"unknown key names\.given"):
        load_settings(config_file=path, env={})


@pytest.mark.parametrize(
    ("flag", "env", "named"),
    [("", {}, "--home"), ("  ", {}, "--home"), (None, {"APP_HOME": ""}, "APP_HOME")],
)
def test_an_empty_home_is_refused_not_read_as_the_default(
    flag: str | None, env: dict[str, str], named: str
) -> None:
    with pytest.raises(InvalidConfig, match=rf"{re.escape(named)}=.*must be a folder path"):
        load_settings(home=flag, env=env)


@pytest.mark.parametrize("text", ["home = 5\n", 'home = ""\n', "home = [1]\n"])
def test_a_home_in_the_file_that_is_not_a_path_is_named(tmp_path: Path, text: str) -> None:
    with pytest.raises(InvalidConfig, match=r"home=.*must be a folder path"):
        load_settings(config_file=write(tmp_path, text), env={})


def test_a_webhook_url_without_its_secret_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[webhook]\nurl = "https://hooks.example.com/x"\n')
    with pytest.raises(InvalidConfig, match=r"\$APP_WEBHOOK_SECRET is empty or unset"):
        load_settings(config_file=config, env={})


def test_the_webhook_secret_never_shows_in_the_settings_repr(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[webhook]\nurl = "https://hooks.example.com/x"\n')
    settings = load_settings(config_file=config, env={"APP_WEBHOOK_SECRET": "tok-123"})
    assert settings.webhook is not None and settings.webhook.secret == "tok-123"
    assert "tok-123" not in repr(settings)


def test_the_webhook_secret_is_not_taken_from_the_file(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[webhook]\nurl = "https://hooks.example.com/x"\nsecret = "tok"\n')
    with pytest.raises(InvalidConfig, match=r"takes only url \(the secret comes from \$APP_WEBHOOK_SECRET\)"):
        load_settings(config_file=config, env={"APP_WEBHOOK_SECRET": "tok"})
