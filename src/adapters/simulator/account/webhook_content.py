"""The account's ``SNOWFLAKE.NOTIFICATION`` text helpers: what the notifier fills into webhook bodies and what task
SQL calls as ``SANITIZE_WEBHOOK_CONTENT``, so the notifier and the task-graph SQL share one rule."""

from __future__ import annotations

import json

MESSAGE_PLACEHOLDER = "SNOWFLAKE_WEBHOOK_MESSAGE"
SECRET_PLACEHOLDER = "SNOWFLAKE_WEBHOOK_SECRET"
_PLACEHOLDERS = (SECRET_PLACEHOLDER, MESSAGE_PLACEHOLDER)


def redact_placeholders(text: str) -> str:
    """``SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT``: placeholders become ``REDACTED``, so message text can
    never pull the integration's secret into a webhook."""
    for placeholder in _PLACEHOLDERS:
        text = text.replace(placeholder, "REDACTED")
    return text


def sanitize_webhook_content(text: str) -> str:
    """Redacted and escaped so it can stand inside a JSON string of a body template such as ``{"text": "..."}``."""
    return json.dumps(redact_placeholders(text), ensure_ascii=False)[1:-1]
