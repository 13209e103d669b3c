"""The guide's account setup, idempotent: database, schemas, stages, image repository, feature store, data.

Objects an admin owns — the compute pool, the warehouse and the notification integration — are only checked
(``SHOW … LIKE``); when one is missing the report says exactly what to create and grant. With a webhook
configured, setup stores its secret in the pipeline's schema and creates the webhook integration itself when
the role may (CREATE INTEGRATION on the account); when it may not, the report says what an admin runs, unless
an integration posting to the same URL is already there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.snowflake.errors import lacks_privilege, register_secret, translate, vendor_errors
from adapters.snowflake.jobs import pool_fix
from adapters.snowflake.notifier import (
    WebhookSetup,
    create_email_integration,
    create_webhook_integration,
    is_webhook,
    secret_statement,
    webhook_integration_fix,
    webhook_secret_name,
    webhook_secret_stored,
)
from adapters.snowflake.rows import row_dict
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.sql_text import string_literal
from domain.errors import InvalidConfig, InvalidData
from domain.features import check_source_rows


@dataclass
class SetupReport:
    created: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # object → the statements that fix it
    rows_uploaded: int = 0

    @property
    def ok(self) -> bool:
        return not self.missing


def required_objects(
    names: SnowflakeNames, webhook: WebhookSetup | None = None
) -> dict[str, tuple[str, str]]:
    """Admin-owned objects: ``label → (SHOW statement, statements that create and grant it)``; with
    ``webhook`` the integration is that webhook."""
    role = names.role
    return {
        f"compute pool {names.compute_pool}": (
            f"SHOW COMPUTE POOLS LIKE {_like(names, 'compute_pool')}",
            pool_fix(names, names.compute_pool),
        ),
        f"warehouse {names.warehouse}": (
            f"SHOW WAREHOUSES LIKE {_like(names, 'warehouse')}",
            f"CREATE WAREHOUSE IF NOT EXISTS {names.warehouse} WAREHOUSE_SIZE = XSMALL AUTO_SUSPEND = 60; "
            f"GRANT USAGE ON WAREHOUSE {names.warehouse} TO ROLE {role}",
        ),
        integration_label(names): (
            integration_show(names),
            create_email_integration(names.notification_integration, role)
            if webhook is None
            else webhook_integration_fix(names, webhook),
        ),
    }


def integration_label(names: SnowflakeNames) -> str:
    return f"notification integration {names.notification_integration}"


def integration_show(names: SnowflakeNames) -> str:
    return f"SHOW NOTIFICATION INTEGRATIONS LIKE {_like(names, 'notification_integration')}"


def describe_integration(session: Any, names: SnowflakeNames) -> dict[str, str]:
    """``DESCRIBE NOTIFICATION INTEGRATION``'s rows as ``{PROPERTY: property_value}``."""
    rows = session.sql(f"DESCRIBE NOTIFICATION INTEGRATION {names.notification_integration}").collect()
    described = (row_dict(r, "lower") for r in rows)
    return {str(d["property"]).upper(): str(d.get("property_value") or "") for d in described}


def _check_webhook_url(url: str) -> None:
    # CREATE NOTIFICATION INTEGRATION (webhooks): "The URL must use the https:// protocol."
    if not url.startswith("https://"):
        raise InvalidConfig(
            f"webhook.url={url!r}: a Snowflake webhook integration takes only an https:// URL (Slack, Microsoft "
            "Teams or PagerDuty; see CREATE NOTIFICATION INTEGRATION (webhooks))"
        )


def _webhook_integration(
    session: Any, names: SnowflakeNames, webhook: WebhookSetup, report: SetupReport
) -> None:
    """Store the secret (ALTER when it exists, so its grants stay), then create the integration or say how."""
    secret = webhook_secret_name(names)
    label = f"secret {secret}"
    with vendor_errors(
        label, privilege_fix=f"GRANT CREATE SECRET ON SCHEMA {names.schema_fqn} TO ROLE {names.role}"
    ):
        like = string_literal(webhook_secret_stored(names))
        exists = bool(session.sql(f"SHOW SECRETS LIKE {like} IN SCHEMA {names.schema_fqn}").collect())
        session.sql(secret_statement(secret, webhook.secret, exists=exists)).collect()
    report.created.append(f"{label} (from the webhook's secret)")
    label = integration_label(names)
    fix = required_objects(names, webhook)[label][1]
    try:
        session.sql(create_webhook_integration(names, webhook)).collect()
    except Exception as exc:
        if not lacks_privilege(exc):
            raise translate(exc, label, fix) from None
        if _posts_to(session, names, webhook.url):
            report.created.append(
                f"{label} (a webhook to {webhook.url}, owned by another role: left as it is)"
            )
        else:
            report.missing[label] = fix
        return
    report.created.append(f"{label} (a webhook to {webhook.url})")


def _posts_to(session: Any, names: SnowflakeNames, url: str) -> bool:
    """Whether the integration exists, visible to the role, as a webhook posting to ``url``."""
    with vendor_errors(integration_label(names)):
        shown = [row_dict(r, "lower") for r in session.sql(integration_show(names)).collect()]
        described = describe_integration(session, names) if shown and is_webhook(shown[0]) else {}
    return described.get("WEBHOOK_URL") == url


def _like(names: SnowflakeNames, field_name: str) -> str:
    # SHOW … LIKE matches the stored name, so a quoted name is given without its quotes.
    return string_literal(names.resolved(field_name))


def setup_statements(names: SnowflakeNames) -> list[str]:
    """The guide's ``create_resources.sql`` plus the UDF stage, all ``IF NOT EXISTS``."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {names.database}",
        f"CREATE SCHEMA IF NOT EXISTS {names.schema_fqn}",
        f"CREATE SCHEMA IF NOT EXISTS {names.data_schema_fqn}",
        f"CREATE STAGE IF NOT EXISTS {names.schema_fqn}.{names.dag_stage_name}",
        f"CREATE STAGE IF NOT EXISTS {names.schema_fqn}.{names.job_stage_name}",
        f"CREATE STAGE IF NOT EXISTS {names.data_schema_fqn}.{names.udf_stage_name}",
        f"CREATE IMAGE REPOSITORY IF NOT EXISTS {names.schema_fqn}.{names.image_repository}",
    ]


def _load_frame(data: Any, data_path: str | Path | None) -> Any:
    import pandas as pd

    if data is None and data_path is None:
        return None
    if data is None:
        path = Path(data_path)  # type: ignore[arg-type]
        if not path.is_file():
            raise InvalidData(f"source data file {path} does not exist")
        data = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if not isinstance(data, pd.DataFrame) or data.empty:
        raise InvalidData("source data must be a non-empty pandas DataFrame (or a .csv/.parquet file)")
    check_source_rows(data, "source data")
    return data


def setup_snowflake(
    session: Any,
    names: SnowflakeNames | None = None,
    *,
    data: Any = None,
    data_path: str | Path | None = None,
    replace_data: bool = False,
    webhook: WebhookSetup | None = None,
) -> SetupReport:
    """Create what the pipeline owns, check what an admin owns, upload the source data if missing or empty;
    with ``webhook``, store its secret and make the integration a webhook (see the module docstring)."""
    names = names or SnowflakeNames()
    frame = _load_frame(data, data_path)  # bad input is refused before anything is created
    if webhook is not None:
        _check_webhook_url(webhook.url)
        register_secret(webhook.secret)  # before any statement that could carry it into an error or a log
    report = SetupReport()
    for label, (show, fix) in required_objects(names, webhook).items():
        if webhook is not None and label == integration_label(names):
            continue  # made below, once the schema that holds its secret exists
        with vendor_errors(label, fix=fix):
            if not session.sql(show).collect():
                report.missing[label] = fix
    database_fix = (
        f"GRANT CREATE DATABASE ON ACCOUNT TO ROLE {names.role} (or create {names.database} for it)"
    )
    for statement in setup_statements(names):
        with vendor_errors(statement, fix=database_fix):
            session.sql(statement).collect()
        report.created.append(statement)
    if webhook is not None:
        _webhook_integration(session, names, webhook, report)
    from snowflake.ml.feature_store import CreationMode, FeatureStore

    if f"warehouse {names.warehouse}" not in report.missing:
        with vendor_errors(f"feature store {names.data_schema_fqn}"):
            FeatureStore(
                session,
                database=names.database,
                name=names.data_schema,
                default_warehouse=names.warehouse,
                creation_mode=CreationMode.CREATE_IF_NOT_EXIST,
            )
        report.created.append(f"feature store {names.data_schema_fqn}")
    if frame is not None:
        report.rows_uploaded = _upload(session, names, frame, replace_data)
    return report


def _upload(session: Any, names: SnowflakeNames, frame: Any, replace: bool) -> int:
    table = names.source_table_fqn
    with vendor_errors(f"source table {table}"):
        exists = session.sql(
            f"select ROW_COUNT from {names.database}.INFORMATION_SCHEMA.TABLES "
            "where TABLE_SCHEMA = ? and TABLE_NAME = ?",
            params=[names.resolved("data_schema"), names.resolved("source_table")],
        ).collect()
        if exists and int(exists[0][0] or 0) > 0 and not replace:
            return 0
        # write_pandas double-quotes the names it is given (needed for the mixed-case column names), so it
        # gets them as stored: `snowbank` would otherwise become a database "snowbank" that does not exist.
        # use_logical_type=True: without it the Parquet timestamp of a datetime64 column is read as a number
        # and auto_create_table makes TS a NUMBER (snowflake-connector-python issues #1820, #1677;
        # snowflake/connector/pandas_tools.py write_pandas adds USE_LOGICAL_TYPE = TRUE to the file format
        # that INFER_SCHEMA and COPY use), and the feature store's to_timestamp(TS) then misreads it.
        session.write_pandas(
            _with_utc_timestamps(frame),
            names.resolved("source_table"),
            database=names.resolved("database"),
            schema=names.resolved("data_schema"),
            auto_create_table=True,
            overwrite=True,
            quote_identifiers=True,
            use_logical_type=True,
        )
    return len(frame)


TIMESTAMP_SOURCE_COL = "TS"  # what the feature store reads with to_timestamp(TS)


def _with_utc_timestamps(frame: Any) -> Any:
    """``TS`` as naive UTC microseconds, so it loads as TIMESTAMP_NTZ whatever it came as.

    Text (a CSV) and time-zone-aware values are converted to UTC; microseconds keep the Parquet timestamp in
    the unit Snowflake's loader reads most reliably (nanoseconds are what #1677 mangled).
    """
    import pandas as pd

    if TIMESTAMP_SOURCE_COL not in frame.columns:
        return frame
    try:
        ts = pd.to_datetime(frame[TIMESTAMP_SOURCE_COL], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InvalidData(
            f"source column {TIMESTAMP_SOURCE_COL} must hold ISO 8601 timestamps (e.g. '2024-05-01 10:00:00'): {exc}"
        ) from None
    return frame.assign(**{TIMESTAMP_SOURCE_COL: ts.dt.tz_convert(None).astype("datetime64[us]")})
