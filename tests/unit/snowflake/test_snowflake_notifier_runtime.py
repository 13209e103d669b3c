"""The notifier sends one CALL with escaped literals and checks the integration first."""

from __future__ import annotations

import re
from typing import Any

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.snowflake.notifier import RECIPIENT_PLACEHOLDER, SnowflakeNotifier, create_email_integration
from domain.errors import InvalidConfig, NotFound, NotificationFailed
from domain.refs import Notification
from tests.unit.snowflake.sf_fakes import ScriptedSession

INTEGRATION = "DEMO_NOTIFICATION_INTEGRATION"


def _session(enabled: str = "true") -> ScriptedSession:
    session = ScriptedSession()
    session.answer(r"^SHOW NOTIFICATION INTEGRATIONS", [{"name": INTEGRATION, "enabled": enabled}])
    return session


def test_the_message_is_one_escaped_literal_with_quotes_backslashes_newlines_and_dollars() -> None:
    session = _session()
    body = "it's C:\\temp\\new\nline two $$ drop table t; $$ ' --"
    SnowflakeNotifier(session).send(INTEGRATION, Notification("Gate 'failed'", body))
    assert session.queries[-1] == (
        "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.TEXT_PLAIN("
        "SNOWFLAKE.NOTIFICATION.SANITIZE_WEBHOOK_CONTENT("
        "'Gate ''failed''\n\nit''s C:\\\\temp\\\\new\nline two $$ drop table t; $$ '' --')), "
        "SNOWFLAKE.NOTIFICATION.INTEGRATION('DEMO_NOTIFICATION_INTEGRATION'))"
    )
    assert session.bound[-1] is None  # no bind variables inside the CALL


def test_every_quote_in_the_message_is_doubled_so_the_literal_ends_where_it_should() -> None:
    session = _session()
    SnowflakeNotifier(session).send(INTEGRATION, Notification("", "a\\' or '1'='1"))
    literal = re.search(r"SANITIZE_WEBHOOK_CONTENT\('((?:[^'\\]|''|\\.)*)'\)\)", session.queries[-1])
    assert literal is not None
    assert literal.group(1) == "a\\\\'' or ''1''=''1"


def test_html_messages_use_text_html() -> None:
    session = _session()
    SnowflakeNotifier(session).send(INTEGRATION, Notification("s", "<b>b</b>", content_type="text/html"))
    assert "SNOWFLAKE.NOTIFICATION.TEXT_HTML(" in session.queries[-1]


def test_an_unknown_integration_is_not_found_with_the_create_and_grant() -> None:
    session = ScriptedSession()
    with pytest.raises(
        NotFound,
        match=r"CREATE NOTIFICATION INTEGRATION IF NOT EXISTS NOPE .*GRANT USAGE ON INTEGRATION NOPE",
    ):
        SnowflakeNotifier(session).send("nope", Notification("s", "b"))


# CREATE NOTIFICATION INTEGRATION (email), https://docs.snowflake.com/sql-reference/sql/create-notification-integration-email:
#   CREATE [ OR REPLACE ] NOTIFICATION INTEGRATION [ IF NOT EXISTS ] <name> TYPE = EMAIL ENABLED = { TRUE | FALSE }
#   [ ALLOWED_RECIPIENTS = ( '<email_address>' [ , ... ] ) ] [ DEFAULT_RECIPIENTS = ( '<email_address>' [ , ... ] ) ]
#   [ DEFAULT_SUBJECT = '<subject_line>' ] [ COMMENT = '<string_literal>' ]
_CREATE_EMAIL = re.compile(
    r"^CREATE (?:OR REPLACE )?NOTIFICATION INTEGRATION (?:IF NOT EXISTS )?(?P<name>\S+) TYPE = EMAIL "
    r"ENABLED = (?:TRUE|FALSE)(?: ALLOWED_RECIPIENTS = \((?:'[^']*'(?:, )?)+\))?"
    r"(?: DEFAULT_RECIPIENTS = \((?P<recipients>(?:'[^']*'(?:, )?)+)\))?"
    r"(?: DEFAULT_SUBJECT = '[^']*')?(?: COMMENT = '[^']*')?$"
)


def test_the_email_integration_fix_follows_the_documented_syntax_and_sets_default_recipients() -> None:
    create, grant, note = create_email_integration("DEMO_NOTIFICATION_INTEGRATION", "ENGINEER").split("; ")
    match = _CREATE_EMAIL.match(create)
    assert match is not None, create
    assert match["name"] == "DEMO_NOTIFICATION_INTEGRATION"
    # INTEGRATION(name) sends to DEFAULT_RECIPIENTS, so the fix must set them (to an address the admin supplies).
    assert match["recipients"] == f"'{RECIPIENT_PLACEHOLDER}'"
    assert grant == "GRANT USAGE ON INTEGRATION DEMO_NOTIFICATION_INTEGRATION TO ROLE ENGINEER"
    assert note.startswith("-- first replace") and RECIPIENT_PLACEHOLDER in note


def test_a_disabled_integration_is_invalid_config() -> None:
    with pytest.raises(InvalidConfig, match="SET ENABLED = TRUE"):
        SnowflakeNotifier(_session("false")).send(INTEGRATION, Notification("s", "b"))


def test_a_failed_delivery_is_notification_failed() -> None:
    session = _session()

    def refuse() -> list[Any]:
        raise SnowparkSQLException("Webhook returned 500", sql_error_code=100)

    session.answer(r"^CALL SYSTEM\$SEND", refuse)
    with pytest.raises(NotificationFailed, match="Webhook returned 500"):
        SnowflakeNotifier(session).send(INTEGRATION, Notification("s", "b"))


def test_a_bad_content_type_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="text/plain"):
        SnowflakeNotifier(_session()).send(
            INTEGRATION, Notification("s", "b", content_type="application/json")
        )
