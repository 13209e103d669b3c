"""The settings a forwarded command carries (``app.control``) arrive as the caller resolved them."""

from __future__ import annotations

from pathlib import Path

from app.control import settings_from_json, settings_json
from app.settings import GraphOptions, Names, Settings
from domain.config import PipelineConfig
from domain.graph import OverlapPolicy


def test_forwarded_settings_arrive_equal_to_the_callers() -> None:
    settings = Settings(
        home=Path("/tmp/some home"),
        names=Names(database="OTHER_DB", given=frozenset({"database"})),
        graph=GraphOptions(name="MY_GRAPH", overlap_policy=OverlapPolicy.ALLOW_ALL_OVERLAP),
        pipeline=PipelineConfig.from_mapping({"model_name": "my_model", "metric_threshold": 0.61}),
    )

    back = settings_from_json(settings_json(settings))

    assert back == settings
    assert back.names.given == frozenset({"database"})  # not compared by ==
