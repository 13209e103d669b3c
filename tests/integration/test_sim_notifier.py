"""Simulated notifications: integrations, webhooks against a loopback server, email, outbox, secrets."""

from __future__ import annotations

import http.server
import json
import mailbox
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.webhook_content import sanitize_webhook_content
from adapters.simulator.notifications.integrations import IntegrationCatalog
from adapters.simulator.notifications.notifier import SimNotifier
from domain.errors import AlreadyExists, InvalidConfig, NotFound, NotificationFailed
from domain.refs import Notification

SECRET = "T0000/B0000/sup3r-s3cret"


@dataclass
class Hook:
    """A loopback webhook: answers with the queued status codes (then 200) and records every request."""

    url: str
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            state.requests.append((self.path, dict(self.headers), body))
            time.sleep(state.delay)
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def catalog(account: LocalAccount) -> IntegrationCatalog:
    return IntegrationCatalog(account)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def notifier(account: LocalAccount, catalog: IntegrationCatalog, sleeps: list[float]) -> SimNotifier:
    return SimNotifier(account, catalog=catalog, attempts=3, timeout=0.5, backoff=0.1, sleep=sleeps.append)


def slack_like(catalog: IntegrationCatalog, url: str) -> None:
    catalog.create_secret("demo_webhook_secret", SECRET)
    catalog.create_integration(
        "demo_notification_integration",
        type="WEBHOOK",
        webhook_url=f"{url}/services/SNOWFLAKE_WEBHOOK_SECRET",
        webhook_secret="demo_webhook_secret",
        webhook_body_template='{"text": "SNOWFLAKE_WEBHOOK_MESSAGE"}',
        webhook_headers={"Content-Type": "application/json"},
    )


def outbox(account: LocalAccount) -> list[tuple[str, int, str | None, str]]:
    with account.cursor() as cur:
        return cur.execute(
            "select STATUS, ATTEMPTS, ERROR, BODY from NOTIFICATION_OUTBOX order by CREATED_ON"
        ).fetchall()


ALERT = Notification(subject="Model Training Status", body='Model quality "test_accuracy" 0.61 < 0.7')


def test_a_webhook_gets_the_template_with_the_message_and_the_secret_in_its_url(
    hook: Hook, catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount
) -> None:
    slack_like(catalog, hook.url)
    notifier.send("DEMO_NOTIFICATION_INTEGRATION", ALERT)
    [(path, headers, body)] = hook.requests
    assert path == f"/services/{SECRET}"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"text": 'Model quality "test_accuracy" 0.61 < 0.7'}
    [(status, attempts, error, _)] = outbox(account)
    assert (status, attempts, error) == ("SENT", 1, None)


def test_server_errors_are_retried_with_exponential_backoff(
    hook: Hook, catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount, sleeps: list[float]
) -> None:
    slack_like(catalog, hook.url)
    hook.statuses = [503, 502]
    notifier.send("demo_notification_integration", ALERT)
    assert len(hook.requests) == 3
    assert sleeps == [0.1, 0.2]
    assert outbox(account)[0][:2] == ("SENT", 3)


def test_client_errors_are_not_retried_and_never_show_the_secret(
    hook: Hook, catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount
) -> None:
    slack_like(catalog, hook.url)
    hook.statuses = [404]
    with pytest.raises(NotificationFailed, match="HTTP 404") as raised:
        notifier.send("demo_notification_integration", ALERT)
    assert len(hook.requests) == 1
    [(status, attempts, error, body)] = outbox(account)
    assert (status, attempts) == ("FAILED", 1)
    assert SECRET not in str(raised.value) + str(error) + body


def test_an_unreachable_webhook_fails_after_the_bounded_attempts(
    catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount, sleeps: list[float]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    catalog.create_integration("hook", type="WEBHOOK", webhook_url=f"http://127.0.0.1:{port}/x")
    with pytest.raises(NotificationFailed, match="after 3 attempt"):
        notifier.send("hook", ALERT)
    assert sleeps == [0.1, 0.2]
    assert outbox(account)[0][:2] == ("FAILED", 3)


def test_a_slow_webhook_is_cut_off_by_the_timeout(
    hook: Hook, catalog: IntegrationCatalog, account: LocalAccount
) -> None:
    catalog.create_integration("hook", type="WEBHOOK", webhook_url=hook.url)
    hook.delay = 1.0
    quick = SimNotifier(account, catalog=catalog, attempts=1, timeout=0.2)
    with pytest.raises(NotificationFailed, match="after 1 attempt"):
        quick.send("hook", ALERT)


def test_a_url_the_secret_makes_invalid_fails_once_without_showing_the_secret(
    hook: Hook, catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount
) -> None:
    catalog.create_secret("token", "abc def")
    catalog.create_integration(
        "hook", type="WEBHOOK", webhook_url=f"{hook.url}/SNOWFLAKE_WEBHOOK_SECRET", webhook_secret="token"
    )
    with pytest.raises(NotificationFailed, match="request is invalid") as raised:
        notifier.send("hook", ALERT)
    [(status, attempts, error, _)] = outbox(account)
    assert (status, attempts) == ("FAILED", 1)
    assert hook.requests == []
    for form in ("abc def", "abc%20def"):
        assert form not in str(raised.value) + str(error)


def test_a_header_a_stored_secret_makes_invalid_fails_without_showing_the_secret(
    hook: Hook, catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount
) -> None:
    catalog.create_secret("token", "placeholder")
    with account.cursor() as cur:  # a secret stored before control characters were refused
        cur.execute("update SECRETS set SECRET_STRING = ? where NAME = 'TOKEN'", [f"{SECRET}\n"])
    catalog.create_integration(
        "hook",
        type="WEBHOOK",
        webhook_url=hook.url,
        webhook_secret="token",
        webhook_headers={"Authorization": "Bearer SNOWFLAKE_WEBHOOK_SECRET"},
    )
    with pytest.raises(NotificationFailed, match="request is invalid") as raised:
        notifier.send("hook", ALERT)
    [(status, attempts, error, _)] = outbox(account)
    assert (status, attempts) == ("FAILED", 1)
    assert SECRET not in str(raised.value) + str(error)


def test_a_secret_with_control_characters_is_refused_without_echoing_it(catalog: IntegrationCatalog) -> None:
    with pytest.raises(InvalidConfig, match="control characters") as raised:
        catalog.create_secret("token", f"{SECRET}\n")
    assert SECRET not in str(raised.value)
    with pytest.raises(NotFound):
        catalog.secret_value("token")


def test_a_placeholder_in_the_message_never_pulls_the_secret_out(
    hook: Hook, catalog: IntegrationCatalog, notifier: SimNotifier
) -> None:
    slack_like(catalog, hook.url)
    notifier.deliver("demo_notification_integration", "leak SNOWFLAKE_WEBHOOK_SECRET please")
    assert SECRET not in hook.requests[0][2]


def test_sanitize_redacts_placeholders_and_escapes_for_json() -> None:
    text = sanitize_webhook_content('a "quote"\nSNOWFLAKE_WEBHOOK_SECRET\\')
    assert text == 'a \\"quote\\"\\nREDACTED\\\\'
    assert json.loads(f'"{text}"') == 'a "quote"\nREDACTED\\'


def test_email_goes_to_the_integrations_mailbox_with_its_default_subject(
    catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount
) -> None:
    catalog.create_integration(
        "demo_notification_integration",
        type="EMAIL",
        default_recipients=["ml-team@example.com"],
        default_subject="Model Training Status",
    )
    notifier.send("demo_notification_integration", Notification(subject="", body="quality check failed"))
    [message] = mailbox.mbox(account.files / "mail" / "DEMO_NOTIFICATION_INTEGRATION.mbox")
    assert message["Subject"] == "Model Training Status"
    assert message["To"] == "ml-team@example.com"
    assert message.get_payload().strip() == "quality check failed"
    assert outbox(account)[0][:2] == ("SENT", 1)


def test_email_without_recipients_fails_naming_the_alter_that_sets_default_recipients(
    catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount
) -> None:
    catalog.create_integration("no_one", type="EMAIL", default_subject="Model Training Status")
    with pytest.raises(
        NotificationFailed, match=r"ALTER NOTIFICATION INTEGRATION NO_ONE SET DEFAULT_RECIPIENTS"
    ):
        notifier.send("no_one", ALERT)
    assert not (account.files / "mail" / "NO_ONE.mbox").exists()
    [(status, attempts, error, _body)] = outbox(account)
    assert (status, attempts) == ("FAILED", 1)
    assert "no DEFAULT_RECIPIENTS" in str(error)


def test_concurrent_emails_to_one_mailbox_are_all_delivered(
    catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount
) -> None:
    catalog.create_integration("mail", type="EMAIL", default_recipients=["ml-team@example.com"])
    start, errors = threading.Barrier(6), []

    def send(i: int) -> None:
        start.wait()
        try:
            notifier.send("mail", Notification(subject=f"alert {i}", body="quality check failed"))
        except Exception as exc:  # recorded, so the assertion below names what went wrong
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    subjects = {m["Subject"] for m in mailbox.mbox(account.files / "mail" / "MAIL.mbox")}
    assert subjects == {f"alert {i}" for i in range(6)}


def test_a_mailbox_locked_by_another_process_is_retried_then_fails_as_a_notification_failure(
    catalog: IntegrationCatalog, notifier: SimNotifier, account: LocalAccount, sleeps: list[float]
) -> None:
    catalog.create_integration("mail", type="EMAIL", default_recipients=["ml-team@example.com"])
    (account.files / "mail").mkdir(parents=True, exist_ok=True)
    (account.files / "mail" / "MAIL.mbox.lock").touch()  # mbox's dot-lock, as another writer holds it
    with pytest.raises(NotificationFailed, match="mailbox is busy"):
        notifier.send("mail", Notification(subject="alert", body="quality check failed"))
    assert sleeps == [0.1, 0.2]
    assert outbox(account)[0][:2] == ("FAILED", 3)


class _SmtpSink(socketserver.StreamRequestHandler):
    received: list[str] = []

    def handle(self) -> None:
        self.wfile.write(b"220 sink\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command == b"DATA":
                self.wfile.write(b"354 go\r\n")
                data = b"".join(iter(self.rfile.readline, b".\r\n"))
                type(self).received.append(data.decode())
                self.wfile.write(b"250 queued\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_email_goes_to_the_configured_smtp_host(catalog: IntegrationCatalog, notifier: SimNotifier) -> None:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpSink) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        catalog.create_integration(
            "mail",
            type="EMAIL",
            default_recipients=["a@example.com"],
            smtp_host="127.0.0.1",
            smtp_port=server.server_address[1],
        )
        notifier.send("mail", Notification(subject="hi", body="over smtp"))
        server.shutdown()
        thread.join()
    assert "over smtp" in _SmtpSink.received[-1]


def test_an_unknown_integration_is_not_found(notifier: SimNotifier) -> None:
    with pytest.raises(NotFound, match="NOWHERE"):
        notifier.send("nowhere", ALERT)


def test_a_disabled_integration_is_refused_by_name(
    catalog: IntegrationCatalog, notifier: SimNotifier
) -> None:
    catalog.create_integration("quiet", type="EMAIL")
    catalog.set_enabled("quiet", False)
    with pytest.raises(InvalidConfig, match="QUIET is disabled"):
        notifier.send("quiet", ALERT)


def test_a_secret_placeholder_without_a_secret_is_refused(catalog: IntegrationCatalog) -> None:
    with pytest.raises(InvalidConfig, match="names no webhook_secret"):
        catalog.create_integration(
            "hook", type="WEBHOOK", webhook_url="https://h.example/SNOWFLAKE_WEBHOOK_SECRET"
        )


def test_an_unknown_secret_is_not_found(catalog: IntegrationCatalog) -> None:
    with pytest.raises(NotFound, match="secret MISSING"):
        catalog.create_integration(
            "hook", type="WEBHOOK", webhook_url="https://h.example/", webhook_secret="missing"
        )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type": "SMS"}, "valid types are EMAIL and WEBHOOK"),
        ({"type": "EMAIL", "default_recipients": ["not-an-address"]}, "invalid email addresses"),
        ({"type": "EMAIL", "webhook_url": "https://h.example/"}, "takes no WEBHOOK_"),
        ({"type": "WEBHOOK", "webhook_url": "ftp://h.example/"}, "http\\(s\\) URL"),
    ],
)
def test_bad_integration_settings_are_refused(
    catalog: IntegrationCatalog, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidConfig, match=message):
        catalog.create_integration("bad", **settings)  # type: ignore[arg-type]
    assert catalog.list_integrations() == []


def test_integrations_are_listed_replaced_and_dropped(catalog: IntegrationCatalog) -> None:
    catalog.create_integration("one", type="EMAIL", default_subject="a")
    with pytest.raises(AlreadyExists):
        catalog.create_integration("one", type="EMAIL")
    catalog.create_integration("one", type="EMAIL", default_subject="b", or_replace=True)
    assert [(i.name, i.default_subject) for i in catalog.list_integrations()] == [("ONE", "b")]
    catalog.drop_integration("one")
    assert catalog.list_integrations() == []
    with pytest.raises(NotFound):
        catalog.drop_integration("one")


def test_sent_messages_older_than_the_retention_leave_the_outbox_and_unsent_ones_stay(
    hook: Hook, catalog: IntegrationCatalog, account: LocalAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, timedelta

    from adapters.simulator.notifications import notifier as module

    clock = [datetime(2026, 2, 1, 12)]
    monkeypatch.setattr(module, "catalog_now", lambda: clock[0])
    slack_like(catalog, hook.url)
    notifier = SimNotifier(account, catalog=catalog, attempts=1, retention=timedelta(days=3))
    notifier.send("demo_notification_integration", ALERT)  # sent on day 0
    hook.statuses = [404]
    with pytest.raises(NotificationFailed):
        notifier.send("demo_notification_integration", ALERT)  # failed on day 0
    clock[0] += timedelta(days=2)
    notifier.send("demo_notification_integration", ALERT)  # day 2: within the retention, nothing goes
    assert [row[0] for row in outbox(account)] == ["SENT", "FAILED", "SENT"]
    clock[0] += timedelta(days=2)
    notifier.send("demo_notification_integration", ALERT)  # day 4: day 0's sent message is past it

    with account.cursor() as cur:
        kept = cur.execute(
            "select STATUS, CREATED_ON from NOTIFICATION_OUTBOX order by CREATED_ON"
        ).fetchall()
    assert kept == [
        ("FAILED", datetime(2026, 2, 1, 12)),
        ("SENT", datetime(2026, 2, 3, 12)),
        ("SENT", datetime(2026, 2, 5, 12)),
    ]


def test_a_notifier_needs_a_positive_retention(account: LocalAccount) -> None:
    from datetime import timedelta

    with pytest.raises(InvalidConfig, match=r"positive retention; got 3, 5\.0, 0\.5, 0:00:00"):
        SimNotifier(account, retention=timedelta(0))
