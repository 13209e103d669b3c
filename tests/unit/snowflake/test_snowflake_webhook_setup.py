"""``[webhook]`` on Snowflake: setup stores the secret and creates the WEBHOOK integration (or says what an
administrator runs), doctor reports its state, and the secret's value appears only in the one statement that
stores it — never in a log record, an exception or the CLI's output.

Everything runs through a real Snowpark ``Session`` over the offline ``RecordingConnection``, so Snowpark's own
query logging (snowflake/snowpark/_internal/server_connection.py ``ServerConnection.run_query`` logs each
query's text at DEBUG) is exercised. Rows are shaped as Snowflake documents them: ``SHOW NOTIFICATION
INTEGRATIONS`` has ``name``, ``type``, ``enabled``; ``DESCRIBE NOTIFICATION INTEGRATION`` has ``property``,
``property_type``, ``property_value``, ``property_default``
(https://docs.snowflake.com/en/sql-reference/sql/desc-notification-integration).
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from snowflake.connector.errors import ProgrammingError

from adapters.snowflake.doctor import SnowflakeDoctor
from adapters.snowflake.notifier import SnowflakeNotifier, WebhookSetup, webhook_integration_fix
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.setup import setup_snowflake
from app.cli import main
from app.settings import Webhook
from domain.errors import InvalidConfig
from domain.refs import Notification
from tests.snowflake_offline.connection import RecordingConnection, recording_session

# A quote and a backslash, so the escaped form in the SQL literal differs from the value.
SECRET = "tok-7f1d9c'x\\y-ab12"
# Its pieces on either side of the quote: a redaction that stops at the quote still shows the second.
PIECES = ("tok-7f1d9c", "y-ab12")


def _leaks(text: str) -> bool:
    return any(piece in text for piece in PIECES)


URL = "https://hooks.slack.com/services/T0/B0"
NAMES = SnowflakeNames()
HOOK = WebhookSetup(URL, SECRET, Webhook.BODY_TEMPLATE, Webhook.HEADERS)
INTEGRATION = "DEMO_NOTIFICATION_INTEGRATION"
LABEL = f"notification integration {INTEGRATION}"
SECRET_NAME = f"SNOWBANK.DEV.{INTEGRATION}_SECRET"
DESCRIBE_COLUMNS = [
    ("property", "TEXT"),
    ("property_type", "TEXT"),
    ("property_value", "TEXT"),
    ("property_default", "TEXT"),
]


@pytest.fixture
def conn() -> RecordingConnection:
    return RecordingConnection()


@pytest.fixture
def session(conn: RecordingConnection) -> Iterator[Any]:
    s = recording_session(conn)
    yield s
    s.close()


def _privilege_error(_sql: str, _params: Sequence[Any] | None) -> list[tuple[Any, ...]]:
    raise ProgrammingError(msg="Insufficient privileges to operate on account 'OFFLINE'", errno=3001)


def _existing_webhook(conn: RecordingConnection, url: str, *, enabled: str = "true") -> None:
    conn.answer(
        r"^SHOW NOTIFICATION INTEGRATIONS LIKE",
        [(INTEGRATION, "WEBHOOK", "NOTIFICATION", enabled)],
        [("name", "TEXT"), ("type", "TEXT"), ("category", "TEXT"), ("enabled", "TEXT")],
    )
    conn.answer(
        r"^DESCRIBE NOTIFICATION INTEGRATION",
        [
            ("ENABLED", "Boolean", enabled, "false"),
            ("WEBHOOK_URL", "String", url, ""),
            ("WEBHOOK_SECRET", "String", SECRET_NAME, ""),
        ],
        DESCRIBE_COLUMNS,
    )


def _chain_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


# --- setup ------------------------------------------------------------------------------------------------


def test_setup_stores_the_secret_in_the_pipeline_schema_and_creates_the_webhook_naming_it(
    conn: RecordingConnection, session: Any
) -> None:
    report = setup_snowflake(session, NAMES, webhook=HOOK)

    sql = [s.sql for s in conn.statements]
    create_schema = sql.index("CREATE SCHEMA IF NOT EXISTS SNOWBANK.DEV")
    (secret,) = [i for i, s in enumerate(sql) if "SECRET_STRING" in s]
    assert create_schema < secret
    assert sql[secret] == (
        f"CREATE SECRET {SECRET_NAME} TYPE = GENERIC_STRING SECRET_STRING = 'tok-7f1d9c''x\\\\y-ab12'"
    )
    assert conn.executed(rf"^SHOW SECRETS LIKE '{INTEGRATION}_SECRET' IN SCHEMA SNOWBANK\.DEV$")
    assert sql[secret + 1] == (
        f"CREATE OR REPLACE NOTIFICATION INTEGRATION {INTEGRATION} TYPE = WEBHOOK ENABLED = TRUE "
        f"WEBHOOK_URL = '{URL}' WEBHOOK_SECRET = {SECRET_NAME} "
        """WEBHOOK_BODY_TEMPLATE = '{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}' """
        "WEBHOOK_HEADERS = ('Content-Type'='application/json', 'Authorization'='Bearer SNOWFLAKE_WEBHOOK_SECRET')"
    )
    assert f"{LABEL} (a webhook to {URL})" in report.created
    assert LABEL not in report.missing


def test_the_secret_value_is_sent_in_exactly_one_statement(conn: RecordingConnection, session: Any) -> None:
    setup_snowflake(session, NAMES, webhook=HOOK)

    carrying = [s for s in [*conn.statements, *conn.describes] if _leaks(s.sql) or s.params]
    assert [s.sql.split(" SECRET_STRING")[0] for s in carrying] == [
        f"CREATE SECRET {SECRET_NAME} TYPE = GENERIC_STRING"
    ]


def test_an_existing_secret_is_altered_so_the_grants_on_it_stay(
    conn: RecordingConnection, session: Any
) -> None:
    conn.answer(r"^SHOW SECRETS LIKE", [(f"{INTEGRATION}_SECRET",)], [("name", "TEXT")])

    setup_snowflake(session, NAMES, webhook=HOOK)

    assert conn.executed(rf"^ALTER SECRET {SECRET_NAME} SET SECRET_STRING = ")
    assert not conn.executed(r"^CREATE SECRET")


def test_a_role_that_may_not_create_integrations_gets_the_statements_an_admin_runs(
    conn: RecordingConnection, session: Any
) -> None:
    conn.answer(r"^CREATE OR REPLACE NOTIFICATION INTEGRATION", _privilege_error)

    report = setup_snowflake(session, NAMES, webhook=HOOK)

    fix = report.missing[LABEL]
    assert fix == webhook_integration_fix(NAMES, HOOK)
    assert f"GRANT USAGE ON SECRET {SECRET_NAME} TO ROLE <administrator's role>" in fix
    assert f"GRANT USAGE ON INTEGRATION {INTEGRATION} TO ROLE ENGINEER" in fix
    assert not _leaks(fix)


def test_an_admin_made_webhook_to_the_same_url_is_left_as_it_is(
    conn: RecordingConnection, session: Any
) -> None:
    conn.answer(r"^CREATE OR REPLACE NOTIFICATION INTEGRATION", _privilege_error)
    _existing_webhook(conn, URL)

    report = setup_snowflake(session, NAMES, webhook=HOOK)

    assert LABEL not in report.missing
    assert any(c.startswith(f"{LABEL} (a webhook to {URL}, owned by another role") for c in report.created)


def test_an_admin_made_webhook_to_another_url_is_reported_with_the_admin_statements(
    conn: RecordingConnection, session: Any
) -> None:
    conn.answer(r"^CREATE OR REPLACE NOTIFICATION INTEGRATION", _privilege_error)
    _existing_webhook(conn, "https://hooks.slack.com/services/OLD")

    report = setup_snowflake(session, NAMES, webhook=HOOK)

    assert report.missing[LABEL] == webhook_integration_fix(NAMES, HOOK)


def test_an_http_url_is_refused_before_any_statement_runs(conn: RecordingConnection, session: Any) -> None:
    before = len(conn.statements)
    with pytest.raises(
        InvalidConfig, match=r"webhook.url='http://hooks.example.com/x'.*only an https:// URL"
    ):
        setup_snowflake(session, NAMES, webhook=WebhookSetup("http://hooks.example.com/x", SECRET, "", {}))
    assert len(conn.statements) == before


# --- the secret stays out of logs and errors ---------------------------------------------------------------


def test_snowparks_query_log_shows_the_secret_statement_redacted(
    session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    setup_snowflake(session, NAMES, webhook=HOOK)

    logged = [r.getMessage() for r in caplog.records]
    assert [m for m in logged if f"CREATE SECRET {SECRET_NAME}" in m], "Snowpark logs each query at DEBUG"
    assert not [m for m in logged if _leaks(m)]


def test_a_failed_secret_statement_raises_and_logs_without_the_secret(
    conn: RecordingConnection, session: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def echo(sql: str, _params: Sequence[Any] | None) -> list[tuple[Any, ...]]:
        # Snowflake's compilation errors quote the text they stopped at.
        raise ProgrammingError(msg=f"SQL compilation error: syntax error near '{sql}'", errno=1003)

    conn.answer(r"^CREATE SECRET", echo)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(InvalidConfig) as raised:
        setup_snowflake(session, NAMES, webhook=HOOK)

    assert f"secret {SECRET_NAME}" in str(raised.value)
    assert not _leaks(_chain_text(raised.value))
    assert not _leaks(caplog.text)


# --- doctor ------------------------------------------------------------------------------------------------


def _doctor_integration(session: Any, webhook: WebhookSetup | None = HOOK) -> Any:
    doctor = SnowflakeDoctor(lambda: session, NAMES, target_instances=2, connection="ci", webhook=webhook)
    return next(c for c in doctor.checks() if c.name == LABEL)


def test_doctor_reports_the_webhooks_url_and_secret(conn: RecordingConnection, session: Any) -> None:
    _existing_webhook(conn, URL)

    check = _doctor_integration(session)

    assert check.ok
    assert check.detail == f"WEBHOOK, enabled, posting to {URL}, secret {SECRET_NAME}"
    assert conn.executed(rf"^DESCRIBE NOTIFICATION INTEGRATION {INTEGRATION}$")


def test_doctor_flags_a_webhook_posting_elsewhere_than_the_config_says(
    conn: RecordingConnection, session: Any
) -> None:
    _existing_webhook(conn, "https://hooks.slack.com/services/OLD")

    check = _doctor_integration(session)

    assert not check.ok and f"[webhook] url is {URL}" in check.detail
    assert webhook_integration_fix(NAMES, HOOK) in check.fix


def test_doctor_flags_a_disabled_webhook(conn: RecordingConnection, session: Any) -> None:
    _existing_webhook(conn, URL, enabled="false")

    check = _doctor_integration(session)

    assert not check.ok and check.fix == f"ALTER INTEGRATION {INTEGRATION} SET ENABLED = TRUE"


def test_doctor_flags_an_email_integration_when_a_webhook_is_configured(
    conn: RecordingConnection, session: Any
) -> None:
    conn.answer(
        r"^SHOW NOTIFICATION INTEGRATIONS LIKE",
        [(INTEGRATION, "EMAIL", "true")],
        [("name", "TEXT"), ("type", "TEXT"), ("enabled", "TEXT")],
    )

    check = _doctor_integration(session)

    assert not check.ok and check.detail == "not a webhook (EMAIL), but [webhook] url is set"


def test_doctor_without_a_webhook_configured_accepts_an_email_integration(
    conn: RecordingConnection, session: Any
) -> None:
    conn.answer(
        r"^SHOW NOTIFICATION INTEGRATIONS LIKE",
        [(INTEGRATION, "EMAIL", "true")],
        [("name", "TEXT"), ("type", "TEXT"), ("enabled", "TEXT")],
    )

    check = _doctor_integration(session, webhook=None)

    assert check.ok and check.detail == "exists (EMAIL, enabled)"


# --- the notifier ------------------------------------------------------------------------------------------


def test_webhook_text_is_escaped_for_the_json_body_template(conn: RecordingConnection, session: Any) -> None:
    _existing_webhook(conn, URL)

    SnowflakeNotifier(session, NAMES).send(INTEGRATION, Notification("Gate", 'said "no"\nrecall 0.6'))

    (call,) = conn.executed(r"^CALL SYSTEM\$SEND_SNOWFLAKE_NOTIFICATION")
    assert "SANITIZE_WEBHOOK_CONTENT('Gate\\\\n\\\\nsaid \\\\\"no\\\\\"\\\\nrecall 0.6')" in call.sql


# --- the CLI -----------------------------------------------------------------------------------------------


@pytest.fixture
def cli_connections(monkeypatch: pytest.MonkeyPatch) -> list[RecordingConnection]:
    """Each CLI command's Snowflake session is a new offline one (the CLI closes its session when the
    command ends; ``composition.open_snowflake_session`` imports ``open_session`` from
    ``adapters.snowflake.session`` when a session is first needed), recorded in this list."""
    import adapters.snowflake.session as sf_session

    opened: list[RecordingConnection] = []

    def open_offline(*_args: Any, **_kwargs: Any) -> Any:
        conn = RecordingConnection()
        # Setup finds the source table full, so no upload runs (INFORMATION_SCHEMA.TABLES' ROW_COUNT).
        conn.answer(r"ROW_COUNT from .*INFORMATION_SCHEMA\.TABLES", [(1000,)], [("ROW_COUNT", "FIXED")])
        opened.append(conn)
        return recording_session(conn)

    monkeypatch.setattr(sf_session, "open_session", open_offline)
    return opened


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "app.toml"
    config.write_text(f'backend = "snowflake"\n[webhook]\nurl = "{URL}"\n')
    return config


def test_the_cli_shows_the_secret_nowhere_on_snowflake(
    tmp_path: Path,
    cli_connections: list[RecordingConnection],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("APP_WEBHOOK_SECRET", SECRET)
    caplog.set_level(logging.DEBUG)
    shown = []
    for argv in (["-v", "setup", "--rows", "200"], ["-v", "doctor"]):
        out, err = io.StringIO(), io.StringIO()
        code = main(["--config-file", str(_config(tmp_path)), *argv], out=out, err=err)
        shown.append((code, out.getvalue() + err.getvalue()))

    (setup_code, setup_text), (_, doctor_text) = shown
    # No pool or warehouse answers: setup is incomplete (exit 3) but has made the secret and the webhook.
    assert setup_code == 3 and f"{LABEL} (a webhook to {URL})" in setup_text, setup_text
    assert cli_connections[0].executed(r"^CREATE SECRET ")
    assert LABEL in doctor_text
    assert not [text for _, text in shown if _leaks(text)]
    assert not _leaks(caplog.text)


def test_a_webhook_url_without_its_secret_is_exit_2_naming_the_variable_before_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapters.snowflake.session as sf_session

    def no_connection(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("no session may open")

    monkeypatch.setattr(sf_session, "open_session", no_connection)
    monkeypatch.delenv("APP_WEBHOOK_SECRET", raising=False)
    out, err = io.StringIO(), io.StringIO()

    code = main(["--config-file", str(_config(tmp_path)), "setup"], out=out, err=err)

    assert code == 2
    assert "$APP_WEBHOOK_SECRET is empty or unset" in err.getvalue()
