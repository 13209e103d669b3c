"""Sessions from ``connections.toml`` (by name, like ``snow -c NAME``) or environment variables, and the
Snowflake forms of the object names the pipeline uses (``app.settings`` reads the names; they are not read
from the environment here).

Credentials are read here and nowhere else; each secret is registered with ``errors.register_secret`` so no
error or log line can echo it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from adapters.snowflake.errors import register_secret, vendor_errors
from adapters.snowflake.sql_text import identifier
from domain.errors import BackendUnavailable, InvalidConfig
from domain.names import DEFAULT_NAMES, ObjectNames, normalize_identifier

# Env vars read when no connection name is given; SNOWFLAKE_ACCOUNT and SNOWFLAKE_USER are required, plus one
# way to authenticate.
ENV_PARAMETERS = {
    "SNOWFLAKE_ACCOUNT": "account",
    "SNOWFLAKE_USER": "user",
    "SNOWFLAKE_PASSWORD": "password",
    "SNOWFLAKE_AUTHENTICATOR": "authenticator",
    "SNOWFLAKE_PRIVATE_KEY_FILE": "private_key_file",
    "SNOWFLAKE_PRIVATE_KEY_FILE_PWD": "private_key_file_pwd",
    "SNOWFLAKE_TOKEN": "token",
    "SNOWFLAKE_HOST": "host",
}
_AUTH_PARAMETERS = ("password", "authenticator", "private_key_file", "token", "private_key")
_SECRET_PARAMETERS = (
    "password",
    "private_key_file_pwd",
    "token",
    "private_key",
    "passcode",
    "oauth_client_secret",
)


@dataclass(frozen=True)
class SnowflakeNames:
    """The account objects the pipeline uses, in their Snowflake forms, built from ``domain.names.ObjectNames``
    (``of``), which holds the defaults; this class adds only what is Snowflake's own: the image repository,
    the stages, qualified names.

    Each name is held as SQL text (``snowbank`` becomes ``SNOWBANK``; a quoted name stays quoted) so it can be
    written into statements as is; ``resolved`` gives the form Snowflake stores and SHOW output reports.
    """

    role: str = DEFAULT_NAMES.role
    database: str = DEFAULT_NAMES.database
    schema: str = DEFAULT_NAMES.schema
    data_schema: str = DEFAULT_NAMES.data_schema
    warehouse: str = DEFAULT_NAMES.warehouse
    compute_pool: str = DEFAULT_NAMES.compute_pool
    notification_integration: str = DEFAULT_NAMES.notification_integration
    source_table: str = DEFAULT_NAMES.source_table
    image_repository: str = "DEMO_IMAGE_REPO"
    dag_stage_name: str = "DAG_STAGE"
    job_stage_name: str = "JOB_STAGE"
    udf_stage_name: str = "UDF_STAGE"

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, identifier(getattr(self, f.name), f.name))

    def resolved(self, field_name: str) -> str:
        """The name as Snowflake stores it (what INFORMATION_SCHEMA and SHOW … LIKE compare with)."""
        return normalize_identifier(getattr(self, field_name), field_name)

    @classmethod
    def of(cls, names: ObjectNames) -> SnowflakeNames:
        """The Snowflake forms of ``names``; the stages and the image repository keep their defaults."""
        return cls(**{f.name: getattr(names, f.name) for f in fields(ObjectNames)})

    @property
    def schema_fqn(self) -> str:
        return f"{self.database}.{self.schema}"

    @property
    def data_schema_fqn(self) -> str:
        return f"{self.database}.{self.data_schema}"

    @property
    def dag_stage(self) -> str:
        return f"@{self.schema_fqn}.{self.dag_stage_name}"

    @property
    def job_stage(self) -> str:
        return f"@{self.schema_fqn}.{self.job_stage_name}"

    @property
    def udf_stage(self) -> str:
        return f"@{self.data_schema_fqn}.{self.udf_stage_name}"

    @property
    def source_table_fqn(self) -> str:
        return f"{self.data_schema_fqn}.{self.source_table}"

    def qualified(self, name: str) -> str:
        """``name`` in the pipeline schema, unless it is already qualified."""
        return name if "." in name else f"{self.schema_fqn}.{name}"


def connections_file(env: Mapping[str, str] | None = None) -> Path:
    """Where ``connections.toml`` lives: ``$SNOWFLAKE_HOME/connections.toml``, else ``~/.snowflake/…``."""
    env = os.environ if env is None else env
    home = env.get("SNOWFLAKE_HOME")
    return (Path(home) if home else Path("~/.snowflake")).expanduser() / "connections.toml"


def connection_parameters(
    connection_name: str | None = None, *, env: Mapping[str, str] | None = None, path: Path | None = None
) -> dict[str, Any]:
    """The connector parameters of a named ``connections.toml`` entry, or from ``SNOWFLAKE_*`` env vars.

    Raises ``BackendUnavailable`` naming the file and entry, or the env vars that are missing.
    """
    env = os.environ if env is None else env
    params = _from_toml(connection_name, path or connections_file(env)) if connection_name else _from_env(env)
    for key in _SECRET_PARAMETERS:
        register_secret(params.get(key))
    return params


def _from_toml(name: str, path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BackendUnavailable(
            f"connection {name!r} not found: {path} does not exist; create it with a [{name}] table "
            f"(account, user, and a password, authenticator or private_key_file), or set SNOWFLAKE_HOME"
        )
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfig(f"{path} is not valid TOML: {exc}") from None
    entries = {k: v for k, v in document.items() if isinstance(v, dict)}
    if name not in entries:
        raise BackendUnavailable(
            f"connection {name!r} is not in {path}; known entries: {sorted(entries) or 'none'}"
        )
    params = dict(entries[name])
    missing = [k for k in ("account", "user") if not params.get(k)]
    if not any(params.get(k) for k in _AUTH_PARAMETERS):
        missing.append("password | authenticator | private_key_file | token")
    if missing:
        raise BackendUnavailable(f"connection {name!r} in {path} lacks {', '.join(missing)}")
    return params


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    params = {param: env[var] for var, param in ENV_PARAMETERS.items() if env.get(var)}
    missing = [var for var in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER") if not env.get(var)]
    if not any(params.get(k) for k in _AUTH_PARAMETERS):
        missing.append(
            "one of SNOWFLAKE_PASSWORD, SNOWFLAKE_AUTHENTICATOR, SNOWFLAKE_PRIVATE_KEY_FILE, SNOWFLAKE_TOKEN"
        )
    if missing:
        raise BackendUnavailable(
            "no Snowflake connection: pass a connections.toml entry name (-c NAME / --connection NAME, "
            f"env SNOWFLAKE_CONNECTION_NAME) or set the env vars; missing: {', '.join(missing)}"
        )
    return params


SESSION_NAMES = ("role", "warehouse")  # the names a session is opened with


def open_session(
    connection_name: str | None,
    names: SnowflakeNames,
    *,
    configured: Collection[str] = (),
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Any:
    """A Snowpark ``Session`` with the pipeline's role and warehouse.

    ``configured`` lists the fields of ``names`` the user set (config file or env, as ``app.settings`` read
    them): a configured role or warehouse replaces the connection's own; one the user did not set keeps the
    connection's, and only a connection without one gets ``names``' value.
    """
    from snowflake.snowpark import Session

    params = connection_parameters(connection_name, env=env, path=path)
    for key in SESSION_NAMES:
        if key in configured:
            params[key] = getattr(names, key)
        else:
            params.setdefault(key, getattr(names, key))
    label = f"connection {connection_name!r}" if connection_name else "connection from SNOWFLAKE_* env vars"
    with vendor_errors(f"opening the {label}", fix=f"check the account, user and credentials of the {label}"):
        session = Session.builder.configs(params).create()
    session.query_tag = "taskgraph-ml"
    return session
