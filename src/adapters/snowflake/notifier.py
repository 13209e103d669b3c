"""Notifier on ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` through a named notification integration.

The message is a bind variable, never interpolated into SQL; webhook content is sanitized by
``SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT`` as the guide does.
"""

from __future__ import annotations

from typing import Any

from adapters.snowflake.errors import translate
from adapters.snowflake.session import SnowflakeNames
from domain.errors import InvalidConfig, NotFound, NotificationFailed
from domain.names import normalize_identifier
from domain.refs import Notification

_CONTENT = {
    "text/plain": "SNOWFLAKE.NOTIFICATION.TEXT_PLAIN",
    "text/html": "SNOWFLAKE.NOTIFICATION.TEXT_HTML",
}
SEND_SQL = (
    "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION("
    "{content}(SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT(?)), "
    "SNOWFLAKE.NOTIFICATION.INTEGRATION(?))"
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
        content = _CONTENT.get(message.content_type)
        if content is None:
            raise InvalidConfig(f"content type {message.content_type!r}: use one of {sorted(_CONTENT)}")
        self._check_integration(name)
        try:
            self._session.sql(
                SEND_SQL.format(content=content), params=[message_text(message), name]
            ).collect()
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
        row = next((_as_dict(r) for r in rows if _as_dict(r).get("name") == name), None)
        fix = (
            f"CREATE NOTIFICATION INTEGRATION {name} TYPE = EMAIL ENABLED = TRUE (or TYPE = WEBHOOK …); "
            f"GRANT USAGE ON INTEGRATION {name} TO ROLE {self.names.role}"
        )
        if row is None:
            raise NotFound(
                f"notification integration {name} does not exist or is not visible to the role: {fix}"
            )
        if str(row.get("enabled", "true")).lower() != "true":
            raise InvalidConfig(
                f"notification integration {name} is disabled: ALTER INTEGRATION {name} SET ENABLED = TRUE"
            )


def _as_dict(row: Any) -> dict[str, Any]:
    data = row.as_dict() if hasattr(row, "as_dict") else dict(row)
    return {str(k).lower(): v for k, v in data.items()}


__all__ = ["SEND_SQL", "SnowflakeNotifier", "message_text"]
