"""Notifier on ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` through a named notification integration.

The message and the integration name are escaped string literals (``sql_text.string_literal``), not bind
variables: Snowpark's ``session.sql(query, params)`` hands qmark binds to the connector for server-side
binding (snowflake/snowpark/session.py ``sql``), and Snowflake documents no binding inside the nested
function arguments of ``CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(...)``, so the statement does not rely on
it. Webhook content is sanitized by ``SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT`` as the guide does.

``SNOWFLAKE.NOTIFICATION.INTEGRATION(name)`` sends to the integration's DEFAULT_RECIPIENTS: an email
integration needs them (verified addresses of users in the account) for this call to reach anyone
(https://docs.snowflake.com/user-guide/notifications/email-notifications, "Specifying the default list of
recipients"; https://docs.snowflake.com/sql-reference/sql/create-notification-integration-email).

A webhook integration (https://docs.snowflake.com/en/sql-reference/sql/create-notification-integration-webhooks)
names a ``GENERIC_STRING`` secret (https://docs.snowflake.com/en/sql-reference/sql/create-secret) in the
pipeline's schema; Snowflake substitutes it for ``SNOWFLAKE_WEBHOOK_SECRET`` in the URL, body template and
headers, and the message for ``SNOWFLAKE_WEBHOOK_MESSAGE`` in the body template. The secret's value is a
string literal in one statement only (``secret_statement``: DDL takes no bind variables); ``errors.register_secret``
keeps it out of every error and vendor log line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.snowflake.errors import translate
from adapters.snowflake.rows import row_dict
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.sql_text import stored_identifier, string_literal
from domain.errors import InvalidConfig, NotFound, NotificationFailed
from domain.names import normalize_identifier
from domain.refs import Notification

_CONTENT = {
    "text/plain": "SNOWFLAKE.NOTIFICATION.TEXT_PLAIN",
    "text/html": "SNOWFLAKE.NOTIFICATION.TEXT_HTML",
}
RECIPIENT_PLACEHOLDER = "<verified email of a user in this account>"


def send_statement(content_type: str, text: str, integration: str) -> str:
    """The CALL that sends ``text`` through ``integration`` (a stored name), every value a string literal."""
    content = _CONTENT.get(content_type)
    if content is None:
        raise InvalidConfig(f"content type {content_type!r}: use one of {sorted(_CONTENT)}")
    return (
        "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION("
        f"{content}(SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT({string_literal(text)})), "
        f"SNOWFLAKE.NOTIFICATION.INTEGRATION({string_literal(integration)}))"
    )


def create_email_integration(integration: str, role: str) -> str:
    """The statements that create an email integration this notifier can send through, and grant it.

    DEFAULT_RECIPIENTS holds a placeholder the admin must replace: Snowflake accepts only verified addresses
    of users in the account there, so no working value can be guessed.
    """
    return (
        f"CREATE NOTIFICATION INTEGRATION IF NOT EXISTS {integration} TYPE = EMAIL ENABLED = TRUE "
        f"DEFAULT_RECIPIENTS = ({string_literal(RECIPIENT_PLACEHOLDER)}) "
        "DEFAULT_SUBJECT = 'Model Training Status'; "
        f"GRANT USAGE ON INTEGRATION {integration} TO ROLE {role}; "
        f"-- first replace '{RECIPIENT_PLACEHOLDER}' with a real one: DEFAULT_RECIPIENTS accepts no other"
    )


@dataclass(frozen=True)
class WebhookSetup:
    """The webhook setup makes the notification integration: POST ``body_template`` to ``url`` with
    ``headers``; ``secret`` (kept out of ``repr``) becomes the integration's secret."""

    url: str
    secret: str = field(repr=False)
    body_template: str
    headers: Mapping[str, str]


def webhook_secret_stored(names: SnowflakeNames) -> str:
    """The integration's secret's name as stored (what SHOW SECRETS LIKE compares): ``<integration>_SECRET``."""
    return names.resolved("notification_integration") + "_SECRET"


def webhook_secret_name(names: SnowflakeNames) -> str:
    """The integration's secret, in the pipeline's schema: ``DB.SCHEMA.<integration>_SECRET``."""
    return f"{names.schema_fqn}.{stored_identifier(webhook_secret_stored(names))}"


def secret_statement(secret: str, value: str, *, exists: bool) -> str:
    """The one statement that holds the secret's value: ALTER keeps the secret's grants, CREATE makes it."""
    if exists:
        return f"ALTER SECRET {secret} SET SECRET_STRING = {string_literal(value)}"
    return f"CREATE SECRET {secret} TYPE = GENERIC_STRING SECRET_STRING = {string_literal(value)}"


def create_webhook_integration(names: SnowflakeNames, webhook: WebhookSetup) -> str:
    """``CREATE OR REPLACE`` (a changed URL or template takes effect) of the webhook integration; the secret
    is named, never its value."""
    headers = ", ".join(f"{string_literal(k)}={string_literal(v)}" for k, v in webhook.headers.items())
    return (
        f"CREATE OR REPLACE NOTIFICATION INTEGRATION {names.notification_integration} TYPE = WEBHOOK "
        f"ENABLED = TRUE WEBHOOK_URL = {string_literal(webhook.url)} WEBHOOK_SECRET = {webhook_secret_name(names)} "
        f"WEBHOOK_BODY_TEMPLATE = {string_literal(webhook.body_template)} WEBHOOK_HEADERS = ({headers})"
    )


ADMIN_ROLE_PLACEHOLDER = "<administrator's role>"


def webhook_integration_fix(names: SnowflakeNames, webhook: WebhookSetup) -> str:
    """What an administrator runs when the pipeline's role may not create integrations.

    Creating one that names a secret needs USAGE on the secret and on its database and schema; the pipeline's
    role owns them (setup made the secret), so it grants them to the administrator's role first.
    """
    role, admin, secret = names.role, ADMIN_ROLE_PLACEHOLDER, webhook_secret_name(names)
    return (
        f"-- as {role}: GRANT USAGE ON DATABASE {names.database} TO ROLE {admin}; "
        f"GRANT USAGE ON SCHEMA {names.schema_fqn} TO ROLE {admin}; GRANT USAGE ON SECRET {secret} TO ROLE {admin}; "
        f"-- then as the administrator: {create_webhook_integration(names, webhook)}; "
        f"GRANT USAGE ON INTEGRATION {names.notification_integration} TO ROLE {role}"
    )


def is_webhook(show_row: Mapping[str, Any]) -> bool:
    """Whether a ``SHOW NOTIFICATION INTEGRATIONS`` row (lower-case keys) is a webhook integration."""
    return str(show_row.get("type", "")).upper().endswith("WEBHOOK")


def message_text(message: Notification) -> str:
    """One text for email and webhook alike: the subject, a blank line, the body."""
    return f"{message.subject}\n\n{message.body}" if message.subject else message.body


class SnowflakeNotifier:
    """The Notifier port on a real account (``names`` gives the default integration to the app)."""

    def __init__(self, session: Any, names: SnowflakeNames | None = None) -> None:
        self._session = session
        self.names = names or SnowflakeNames()

    def send(self, integration: str, message: Notification) -> None:
        name = normalize_identifier(integration, "notification integration")
        text = message_text(message)
        send_statement(message.content_type, text, name)  # a bad content type fails before any query
        if is_webhook(self._check_integration(name)):
            # Snowflake puts the message into the body template as it is; the template is JSON (a string
            # field), so the text is escaped for it, as the simulator's notifier does.
            text = json.dumps(text, ensure_ascii=False)[1:-1]
        statement = send_statement(message.content_type, text, name)
        try:
            self._session.sql(statement).collect()
        except Exception as exc:
            error = translate(exc, f"sending a notification through integration {name}")
            if isinstance(error, NotFound):
                raise error from None
            raise NotificationFailed(str(error)) from None

    def _check_integration(self, name: str) -> dict[str, Any]:
        """The integration's SHOW row; NotFound or InvalidConfig (disabled) when it cannot send."""
        pattern = name.replace("\\", "\\\\").replace("'", "''")
        try:
            rows = self._session.sql(f"SHOW NOTIFICATION INTEGRATIONS LIKE '{pattern}'").collect()
        except Exception as exc:
            raise translate(exc, f"notification integration {name}") from None
        row = next((d for d in (row_dict(r, "lower") for r in rows) if d.get("name") == name), None)
        if row is None:
            fix = create_email_integration(stored_identifier(name), self.names.role)
            raise NotFound(
                f"notification integration {name} does not exist or is not visible to the role "
                f"(an EMAIL or WEBHOOK integration is needed): {fix}"
            )
        if str(row.get("enabled", "true")).lower() != "true":
            raise InvalidConfig(
                f"notification integration {name} is disabled: ALTER INTEGRATION {name} SET ENABLED = TRUE"
            )
        return row


__all__ = [
    "ADMIN_ROLE_PLACEHOLDER",
    "RECIPIENT_PLACEHOLDER",
    "SnowflakeNotifier",
    "WebhookSetup",
    "create_email_integration",
    "create_webhook_integration",
    "is_webhook",
    "message_text",
    "secret_statement",
    "send_statement",
    "webhook_integration_fix",
    "webhook_secret_name",
    "webhook_secret_stored",
]
