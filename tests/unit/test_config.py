"""Pipeline and run configuration: defaults, coercion, strict validation and the flat round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.config import Comparison, PipelineConfig, RunConfig
from domain.errors import InvalidConfig, InvalidName


def test_defaults_are_the_guides_values() -> None:
    cfg = PipelineConfig()
    assert (cfg.dataset_name, cfg.model_name, cfg.metric_name, cfg.metric_threshold) == (
        "mortgage_dataset",
        "mortgage_model",
        "test_accuracy",
        0.7,
    )
    assert cfg.xgboost_params() == {
        "max_depth": 50,
        "eta": 0.75,
        "objective": "binary:logistic",
        "booster": "gbtree",
    }
    assert cfg.num_boost_round == 3


def test_to_mapping_is_flat_and_round_trips() -> None:
    cfg = PipelineConfig(guardrails=(("test_roc_auc", 0.05), ("test_f1", 0.1)), comparison=Comparison.GT)
    flat = cfg.to_mapping()
    assert all(isinstance(v, str | int | float | bool) for v in flat.values())
    assert flat["guardrails"] == "test_roc_auc:0.05,test_f1:0.1"
    assert flat["comparison"] == ">"
    assert PipelineConfig.from_mapping(flat) == cfg


def test_strings_typed_by_a_user_are_coerced() -> None:
    cfg = PipelineConfig.from_mapping(
        {
            "metric_threshold": "0.8",
            "expiry_days": "3",
            "notify_on_promotion": "false",
            "comparison": "GT",
            "guardrails": "test_f1:0.1",
        }
    )
    assert (cfg.metric_threshold, cfg.expiry_days, cfg.notify_on_promotion) == (0.8, 3, False)
    assert cfg.comparison is Comparison.GT
    assert cfg.guardrails == (("test_f1", 0.1),)


def test_empty_guardrail_string_means_none() -> None:
    assert PipelineConfig.from_mapping({"guardrails": ""}).guardrails == ()


def test_guardrails_as_a_sequence_of_pairs() -> None:
    cfg = PipelineConfig.from_mapping({"guardrails": [["test_log_loss", 0.2]]})
    assert cfg.guardrails == (("test_log_loss", 0.2),)


def test_unknown_key_is_rejected_with_the_closest_valid_key() -> None:
    with pytest.raises(
        InvalidConfig, match=r"unknown config key 'metric_treshold' \(did you mean 'metric_threshold'"
    ):
        PipelineConfig.from_mapping({"metric_treshold": 0.8})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"metric_threshold": "high"}, "metric_threshold='high' must be a number"),
        ({"metric_threshold": True}, "must be a number"),
        ({"expiry_days": 1.5}, "expiry_days=1.5 must be a whole number"),
        ({"notify_on_promotion": "maybe"}, "must be a boolean"),
        ({"dataset_name": 42}, "dataset_name=42 must be a string"),
        ({"comparison": "<"}, "must be one of '>=' "),
        ({"guardrails": 5}, "guardrails=5 must be a string"),
        ({"guardrails": "test_f1"}, "metric:tolerance"),
    ],
)
def test_wrong_types_name_the_key_value_and_expected_type(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidConfig, match=fragment):
        PipelineConfig.from_mapping(data)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"metric_threshold": 1.7}, "metric_threshold=1.7 is out of range; valid: 0 to 1"),
        ({"metric_threshold": "nan"}, "out of range"),
        ({"metric_name": "test_log_loss", "metric_threshold": -0.1}, "valid: a number >= 0"),
        ({"expiry_days": -1}, "expiry_days=-1 is out of range; valid: 0 to 3650"),
        ({"test_fraction": 1.0}, "strictly between 0 and 1"),
        ({"target_instances": 0}, "1 to 64"),
        ({"champion_margin": -0.01}, ">= 0"),
        ({"guardrails": "test_f1:-0.1"}, "tolerance >= 0"),
        ({"guardrails": "test_f1:0.1,test_f1:0.2"}, "twice"),
        ({"learning_rate": 0}, "greater than 0"),
        ({"objective": "reg:squarederror"}, "binary:logistic"),
        ({"job_timeout_seconds": 0}, ">= 1"),
    ],
)
def test_out_of_range_values_name_the_valid_range(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidConfig, match=fragment):
        PipelineConfig.from_mapping(data)


def test_the_guides_test_all_key_is_rejected_with_a_recall_hint() -> None:
    with pytest.raises(InvalidConfig, match="use 'test_recall'"):
        PipelineConfig.from_mapping({"metric_name": "test_all"})


def test_a_misspelt_metric_suggests_the_closest_key() -> None:
    with pytest.raises(InvalidConfig, match="did you mean 'test_roc_auc'"):
        PipelineConfig.from_mapping({"guardrails": "test_rocauc:0.1"})


def test_log_loss_threshold_may_exceed_one() -> None:
    assert PipelineConfig(metric_name="test_log_loss", metric_threshold=2.5).metric_threshold == 2.5


@pytest.mark.parametrize("key", ["dataset_name", "model_name", "notification_integration", "compute_pool"])
def test_names_are_validated_as_identifiers(key: str) -> None:
    with pytest.raises(InvalidName, match=key):
        PipelineConfig.from_mapping({key: 'x"; drop table t; --'})


def test_names_are_stored_as_given() -> None:
    cfg = PipelineConfig(dataset_name="my_data", source_table="db.schema.Loans")
    assert (cfg.dataset_name, cfg.source_table) == ("my_data", "db.schema.Loans")


def test_source_table_may_be_qualified_but_not_beyond_three_parts() -> None:
    with pytest.raises(InvalidName, match="source_table"):
        PipelineConfig(source_table="a.b.c.d")


def test_with_overrides_validates_and_keeps_other_values() -> None:
    cfg = PipelineConfig(model_name="m1").with_overrides({"metric_threshold": "0.9"})
    assert (cfg.model_name, cfg.metric_threshold) == ("m1", 0.9)
    with pytest.raises(InvalidConfig):
        cfg.with_overrides({"nope": 1})


@pytest.mark.parametrize(
    ("comparison", "value", "higher", "passes"),
    [
        (Comparison.GE, 0.7, True, True),
        (Comparison.GT, 0.7, True, False),
        (Comparison.GE, 0.69, True, False),
        (Comparison.GE, 0.3, False, True),
        (Comparison.GT, 0.7, False, False),
        (Comparison.GE, 0.71, False, False),
        (Comparison.GE, float("nan"), True, False),
        (Comparison.GE, float("nan"), False, False),
    ],
)
def test_comparison_respects_direction_and_never_passes_nan(
    comparison: Comparison, value: float, higher: bool, passes: bool
) -> None:
    assert comparison.passes(value, 0.7, higher) is passes


def test_run_config_derives_the_model_version_from_the_scheduled_time() -> None:
    run = RunConfig.from_graph({"model_name": "m"}, datetime(2025, 3, 4, 5, 6, 7))
    assert run.model_version == "v20250304_050607"
    assert run.pipeline.model_name == "m"


def test_run_id_in_the_graph_config_is_rejected() -> None:
    with pytest.raises(InvalidConfig, match="derived from the graph run's scheduled time"):
        RunConfig.from_graph({"run_id": "v1"}, datetime(2025, 1, 1))


def test_deployment_entries_are_kept_apart_from_the_policy() -> None:
    config = {**PipelineConfig().to_mapping(), "deployment.data_schema": "FEATURES"}

    run = RunConfig.from_graph(config, datetime(2026, 2, 10, 9, 28, 49, tzinfo=UTC))

    assert run.deployment == {"data_schema": "FEATURES"} and run.pipeline == PipelineConfig()


def test_a_deployment_entry_must_be_a_name() -> None:
    with pytest.raises(InvalidConfig, match=r"deployment\.database"):
        RunConfig.from_graph({"deployment.database": 5}, datetime(2026, 2, 10, tzinfo=UTC))
