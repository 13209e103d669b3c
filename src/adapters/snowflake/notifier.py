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
"""

from __future__ import annotations

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
        statement = send_statement(message.content_type, message_text(message), name)
        self._check_integration(name)
        try:
            self._session.sql(statement).collect()
        except Exception as exc:
            error = translate(exc, f"sending a notification through integration {name}")
            if isinstance(error, NotFound):
                raise error from None
            raise NotificationFailed(str(error)) from None

    def _check_integration(self, name: str) -> None:
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


__all__ = [
    "RECIPIENT_PLACEHOLDER",
    "SnowflakeNotifier",
    "create_email_integration",
    "message_text",
    "send_statement",
]
