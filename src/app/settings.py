"""Settings, read once: defaults < config file (TOML) < environment < command-line flags.

The config file (``--config-file`` or ``$APP_CONFIG``) has top-level ``backend``, ``home``, ``connection`` and
the tables ``[names]`` (Snowflake object names), ``[graph]`` (task-graph options) and ``[pipeline]`` (the
pipeline policy, validated by ``domain.config.PipelineConfig``). Environment variables use the guide's names
(``SNOWFLAKE_DATABASE``, ``SNOWFLAKE_SCHEMA``, ``SNOWFLAKE_WAREHOUSE``, ``SNOWFLAKE_COMPUTE_POOL``,
``SNOWFLAKE_ROLE``) plus ``APP_BACKEND``, ``APP_HOME`` and ``SNOWFLAKE_CONNECTION_NAME``. Every bad value is an
``InvalidConfig`` naming its source, the key, the value and what is valid.

This is the only module that reads the environment for settings and object names; the defaults are
``domain.names.ObjectNames``'.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from domain.config import PipelineConfig
from domain.errors import InvalidConfig
from domain.graph import OverlapPolicy, validate_name
from domain.names import DEFAULT_NAMES, ObjectNames, normalize_identifier
from domain.pipeline import DEFAULT_GRAPH_NAME

BACKENDS = ("simulator", "snowflake")


def _whole(owner: str, key: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidConfig(f"{owner}.{key}={value!r}: must be a whole number in {low}..{high}")


@dataclass(frozen=True)
class Names:
    """Snowflake object names (the guide's ``constants.py``), also used by the simulator's local account.

    The compute pool's name is part of the pipeline config (``[pipeline] compute_pool``), because the deployed
    training task reads it from the graph config; ``compute_pool_max_nodes`` sizes the simulator's pool.
    """

    role: str = DEFAULT_NAMES.role
    database: str = DEFAULT_NAMES.database
    schema: str = DEFAULT_NAMES.schema
    data_schema: str = DEFAULT_NAMES.data_schema
    warehouse: str = DEFAULT_NAMES.warehouse
    compute_pool_max_nodes: int = 2
    # The fields the user set (config file or env), so that only those override a Snowflake connection's own
    # role and warehouse; a default never does. Not a config key.
    given: frozenset[str] = field(default=frozenset(), compare=False, metadata={"config_key": False})

    def __post_init__(self) -> None:
        unknown = set(self.given) - set(_config_keys(Names))
        if unknown:
            raise InvalidConfig(f"names given {sorted(unknown)} are not names; valid: {_config_keys(Names)}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "given":
                continue
            if f.name == "compute_pool_max_nodes":
                _whole("names", f.name, value, 1, 256)
            elif not isinstance(value, str):
                raise InvalidConfig(f"names.{f.name}={value!r}: must be a name (a string)")
            else:
                normalize_identifier(value, f"names.{f.name}")

    def deployment(self) -> dict[str, str]:
        """The names a deployed task needs to find its objects (the graph config's ``deployment.`` entries)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), str)}


@dataclass(frozen=True)
class GraphOptions:
    name: str = DEFAULT_GRAPH_NAME
    task_auto_retry_attempts: int = 0
    task_timeout_seconds: int = 3600
    overlap_policy: OverlapPolicy = OverlapPolicy.NO_OVERLAP
    # Simulator: days finished runs stay in the home's task history (Snowflake's INFORMATION_SCHEMA keeps 7,
    # ACCOUNT_USAGE 365: the most allowed).
    history_days: int = 7

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise InvalidConfig(f"graph.name={self.name!r}: must be a name (a string)")
        validate_name(self.name, "graph")
        _whole("graph", "task_auto_retry_attempts", self.task_auto_retry_attempts, 0, 30)
        _whole("graph", "task_timeout_seconds", self.task_timeout_seconds, 1, 604_800)
        _whole("graph", "history_days", self.history_days, 1, 365)


WEBHOOK_SECRET_ENV = "APP_WEBHOOK_SECRET"


@dataclass(frozen=True)
class Webhook:
    """``[webhook] url``: setup makes the notification integration a WEBHOOK posting there, with the secret
    from ``$APP_WEBHOOK_SECRET`` (never from the file, which may be shared) sent as a Bearer token. The value
    is kept out of ``repr`` so settings never show it in a log or an error."""

    url: str
    secret: str = field(repr=False)
    # What the integration posts, on both backends: the message as ``{"text": …}`` (Slack's shape), the secret
    # as a Bearer token; each backend substitutes the placeholders when it sends.
    BODY_TEMPLATE: ClassVar[str] = '{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}'
    HEADERS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"Content-Type": "application/json", "Authorization": "Bearer SNOWFLAKE_WEBHOOK_SECRET"}
    )

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise InvalidConfig(f"webhook.url={self.url!r}: must be an http:// or https:// URL")
        if not self.secret:
            raise InvalidConfig(
                f"webhook.url is set but ${WEBHOOK_SECRET_ENV} is empty or unset: export the webhook's secret "
                f"(its token) as {WEBHOOK_SECRET_ENV}"
            )


@dataclass(frozen=True)
class Settings:
    backend: str = "simulator"
    home: Path | None = None  # None: the default per-user folder (resolved by the simulator)
    connection: str | None = None
    names: Names = field(default_factory=Names)
    graph: GraphOptions = field(default_factory=GraphOptions)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    webhook: Webhook | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InvalidConfig(f"backend {self.backend!r} is not one of {', '.join(BACKENDS)}")

    @property
    def object_names(self) -> ObjectNames:
        """Every account object name these settings use, in one value for the adapters to build on.

        The pool and the integration are pipeline config (a deployed task reads them from its graph config);
        the source table setup creates stays the default one, as before (``[pipeline] source_table`` names
        the table the pipeline reads, which may be qualified).
        """
        n, p = self.names, self.pipeline
        return ObjectNames(
            role=n.role,
            database=n.database,
            schema=n.schema,
            data_schema=n.data_schema,
            warehouse=n.warehouse,
            compute_pool=p.compute_pool,
            notification_integration=p.notification_integration,
        )


_ENV_NAMES = {
    "SNOWFLAKE_ROLE": "role",
    "SNOWFLAKE_DATABASE": "database",
    "SNOWFLAKE_SCHEMA": "schema",
    "SNOWFLAKE_WAREHOUSE": "warehouse",
}


def load_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    backend: str | None = None,
    home: str | os.PathLike[str] | None = None,
    connection: str | None = None,
    pipeline_overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Merge every source once; flags (the keyword arguments) win."""
    env = os.environ if env is None else env
    config_file = config_file or env.get("APP_CONFIG") or None
    data = _read_file(Path(config_file)) if config_file else {}
    unknown = set(data) - {"backend", "home", "connection", "names", "graph", "pipeline", "webhook"}
    if unknown:
        raise InvalidConfig(
            f"{config_file}: unknown key(s) {sorted(unknown)}; valid: backend, home, connection, [names], [graph], "
            "[pipeline], [webhook]"
        )
    hook = dict(_table(data, "webhook", config_file))
    if set(hook) - {"url"}:
        raise InvalidConfig(
            f"{config_file}: [webhook] takes only url (the secret comes from ${WEBHOOK_SECRET_ENV}), got "
            f"{sorted(hook)}"
        )
    names = _section(data, "names", Names, config_file)
    for var, key in _ENV_NAMES.items():
        if env.get(var):
            names[key] = env[var]
    pipeline = dict(_table(data, "pipeline", config_file))
    if env.get("SNOWFLAKE_COMPUTE_POOL"):  # the environment beats the file, as for every other setting
        pipeline["compute_pool"] = env["SNOWFLAKE_COMPUTE_POOL"]
    pipeline.update(pipeline_overrides or {})
    home_path = _home(home, env, data, config_file)
    graph = _section(data, "graph", GraphOptions, config_file)
    if "overlap_policy" in graph:
        graph["overlap_policy"] = _overlap(graph["overlap_policy"])
    return Settings(
        backend=backend or env.get("APP_BACKEND") or data.get("backend", "simulator"),
        home=home_path,
        connection=connection or env.get("SNOWFLAKE_CONNECTION_NAME") or data.get("connection"),
        names=Names(**names, given=frozenset(names)),
        graph=GraphOptions(**graph),
        pipeline=PipelineConfig.from_mapping(pipeline),
        webhook=Webhook(hook["url"], env.get(WEBHOOK_SECRET_ENV, "")) if "url" in hook else None,
    )


def with_pipeline_overrides(settings: Settings, overrides: Mapping[str, object]) -> Settings:
    return replace(
        settings, pipeline=PipelineConfig.from_mapping({**settings.pipeline.to_mapping(), **overrides})
    )


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings from the command line; values are typed by ``PipelineConfig``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidConfig(f"--config {pair!r}: expected KEY=VALUE, e.g. metric_threshold=0.8")
        out[key.strip()] = value.strip()
    return out


def _home(
    flag: str | os.PathLike[str] | None, env: Mapping[str, str], data: Mapping[str, Any], config_file: object
) -> Path | None:
    """The simulator home the first source that gives one names; None for the default home.

    A given but empty value is refused rather than read as "not given": ``--home "$DIR"`` with ``DIR`` unset
    would otherwise quietly open (and set up) the default home.
    """
    for source, value in (
        ("--home", flag),
        ("APP_HOME", env.get("APP_HOME")),
        (f"{config_file}: home", data.get("home")),
    ):
        if value is None:
            continue
        if not isinstance(value, str | os.PathLike):
            raise InvalidConfig(f"{source}={value!r}: must be a folder path (a string)")
        if not os.fspath(value).strip():
            raise InvalidConfig(
                f"{source}={os.fspath(value)!r}: must be a folder path; leave it unset for the default home"
            )
        return Path(value).expanduser()
    return None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise InvalidConfig(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig(f"config file {path} is not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidConfig(f"config file {path} cannot be read: {exc}") from exc


def _table(data: Mapping[str, Any], key: str, source: object) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise InvalidConfig(f"{source}: [{key}] must be a table, got {value!r}")
    return value


def _config_keys(cls: type) -> list[str]:
    return [f.name for f in fields(cls) if f.metadata.get("config_key", True)]


def _section(data: Mapping[str, Any], key: str, cls: type, source: object) -> dict[str, Any]:
    table = dict(_table(data, key, source))
    valid = _config_keys(cls)
    for k in table:
        if k not in valid:
            hint = difflib.get_close_matches(k, valid, n=1)
            raise InvalidConfig(
                f"{source}: unknown key {key}.{k}"
                + (f" (did you mean {hint[0]}?)" if hint else "")
                + f"; valid: {', '.join(valid)}"
            )
    return table


def _overlap(value: object) -> OverlapPolicy:
    try:
        return OverlapPolicy(str(value).upper())
    except ValueError as exc:
        raise InvalidConfig(
            f"graph.overlap_policy={value!r}: must be one of {', '.join(p.value for p in OverlapPolicy)}"
        ) from exc
