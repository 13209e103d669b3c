"""Notifications on the simulator: webhooks over HTTP, email to a mailbox file or SMTP, and an outbox.

What ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` does, locally. The secret is substituted into the integration's
URL, body template and headers only — the message is inserted after that, so a placeholder inside a message
can never pull the secret out. Webhooks are retried with exponential backoff on 5xx answers and connection
errors (never on 4xx), each attempt bounded by a timeout. Every message lands in ``NOTIFICATION_OUTBOX`` with
its status, attempts and error; the secret value is redacted from everything recorded or raised. Sent messages
are kept as long as the graph history (``retention``, ``[graph] history_days``); unsent ones until deleted.
"""

from __future__ import annotations

import http.client
import mailbox
import smtplib
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from adapters.simulator.account.clock import HISTORY_RETENTION, catalog_now
from adapters.simulator.account.errors import translated
from adapters.simulator.account.folders import path_segment
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.webhook_content import (
    MESSAGE_PLACEHOLDER,
    SECRET_PLACEHOLDER,
    sanitize_webhook_content,
)
from adapters.simulator.notifications.integrations import (
    Integration,
    IntegrationCatalog,
    IntegrationType,
)
from domain.errors import InvalidConfig, NotificationFailed
from domain.refs import Notification

SENDER = "notifications@simulator.local"
DEFAULT_SUBJECT = "Snowflake Notification"
# One writer at a time per local mailbox file in this process (other processes meet mbox's own lock).
_MAILBOX_LOCKS: dict[Path, threading.Lock] = {}
_MAILBOX_LOCKS_LOCK = threading.Lock()
_DDL = (
    "create table if not exists NOTIFICATION_OUTBOX(ID VARCHAR, INTEGRATION VARCHAR, TYPE VARCHAR, "
    "SUBJECT VARCHAR, BODY VARCHAR, STATUS VARCHAR, ATTEMPTS INTEGER, ERROR VARCHAR, CREATED_ON TIMESTAMP)"
)


class _Undelivered(Exception):
    """A delivery attempt failed; ``retry`` says whether another attempt may succeed."""

    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.retry = retry


class SimNotifier:
    """``domain.ports.Notifier`` on the simulator home."""

    def __init__(
        self,
        account: LocalAccount,
        *,
        catalog: IntegrationCatalog | None = None,
        attempts: int = 3,
        timeout: float = 5.0,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        retention: timedelta = HISTORY_RETENTION,
    ) -> None:
        """``retention``: sent messages older than this leave the outbox as each new one is recorded."""
        if attempts < 1 or timeout <= 0 or backoff < 0 or retention <= timedelta(0):
            raise InvalidConfig(
                f"notifier needs attempts >= 1, timeout > 0, backoff >= 0 and a positive retention; "
                f"got {attempts}, {timeout}, {backoff}, {retention}"
            )
        self.account = account
        self.catalog = catalog or IntegrationCatalog(account)
        self.attempts, self.timeout, self.backoff, self.sleep = attempts, timeout, backoff, sleep
        self.retention = retention
        with translated("creating the notification outbox"), account.cursor() as cur:
            cur.execute(_DDL)

    def send(self, integration: str, message: Notification) -> None:
        """Send through the named integration; webhook content is sanitised as the guide's SQL does."""
        target = self._enabled(integration)
        body = (
            sanitize_webhook_content(message.body) if target.type is IntegrationType.WEBHOOK else message.body
        )
        self._deliver(target, body, subject=message.subject, content_type=message.content_type)

    def deliver(
        self,
        integration: str,
        content: str,
        *,
        subject: str | None = None,
        recipients: Sequence[str] | None = None,
        content_type: str = "text/plain",
    ) -> None:
        """``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` with the content as given (the caller sanitises it)."""
        self._deliver(
            self._enabled(integration),
            content,
            subject=subject,
            recipients=recipients,
            content_type=content_type,
        )

    def _enabled(self, name: str) -> Integration:
        integration = self.catalog.get_integration(name)
        if not integration.enabled:
            raise InvalidConfig(
                f"notification integration {integration.name} is disabled; enable it with "
                f"ALTER NOTIFICATION INTEGRATION {integration.name} SET ENABLED = TRUE"
            )
        return integration

    def _deliver(
        self,
        integration: Integration,
        content: str,
        *,
        subject: str | None,
        content_type: str,
        recipients: Sequence[str] | None = None,
    ) -> None:
        secret = self.catalog.secret_value(integration.webhook_secret) if integration.webhook_secret else None
        subject = subject or integration.default_subject or DEFAULT_SUBJECT
        attempts, error = 0, None
        for attempts in range(1, self.attempts + 1):
            try:
                if integration.type is IntegrationType.WEBHOOK:
                    self._post(integration, content, secret)
                else:
                    self._mail(integration, content, subject, content_type, recipients)
                error = None
                break
            except _Undelivered as exc:
                error = _redact(str(exc), secret)
                if not exc.retry or attempts == self.attempts:
                    break
                self.sleep(self.backoff * 2 ** (attempts - 1))
        self._record(integration, subject, _redact(content, secret), attempts, error)
        if error is not None:
            raise NotificationFailed(
                f"notification through {integration.name} failed after {attempts} attempt(s): {error}"
            )

    def _post(self, integration: Integration, content: str, secret: str | None) -> None:
        def fill(text: str) -> str:
            return text.replace(SECRET_PLACEHOLDER, secret) if secret is not None else text

        template = integration.webhook_body_template
        body = content if template is None else fill(template).replace(MESSAGE_PLACEHOLDER, content)
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        headers.update({fill(k): fill(v) for k, v in integration.webhook_headers.items()})
        try:
            request = urllib.request.Request(
                fill(integration.webhook_url), data=body.encode("utf-8"), headers=headers, method="POST"
            )
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise _Undelivered(f"HTTP {exc.code} {exc.reason}", retry=exc.code >= 500) from None
        except urllib.error.URLError as exc:
            raise _Undelivered(f"cannot reach the webhook: {exc.reason}", retry=True) from None
        except (TimeoutError, OSError) as exc:
            raise _Undelivered(f"webhook request failed: {exc}", retry=True) from None
        except (http.client.InvalidURL, ValueError) as exc:
            # A space or control character in the URL, a bad header name or value (not Latin-1, a newline)
            # once the secret is substituted: the same request would fail every time.
            raise _Undelivered(
                f"the webhook request is invalid (its URL or a header, after the secret is substituted): {exc}",
                retry=False,
            ) from None
        except http.client.HTTPException as exc:  # a malformed answer: the next attempt may get a good one
            raise _Undelivered(f"the webhook answered malformed HTTP: {exc!r}", retry=True) from None

    def _mail(
        self,
        integration: Integration,
        content: str,
        subject: str,
        content_type: str,
        recipients: Sequence[str] | None,
    ) -> None:
        to = list(recipients or integration.default_recipients)
        if not to:
            # Snowflake mails INTEGRATION(name) messages to the integration's DEFAULT_RECIPIENTS and fails
            # the send without them (docs: "Sending email notifications"), so the simulator does too.
            raise _Undelivered(
                f"EMAIL integration {integration.name} has no DEFAULT_RECIPIENTS and the message names no "
                f"recipients: ALTER NOTIFICATION INTEGRATION {integration.name} SET DEFAULT_RECIPIENTS = "
                "('<verified email of a user in this account>')",
                retry=False,
            )
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = SENDER
        message["To"] = ", ".join(to)
        message.set_content(content, subtype="html" if content_type == "text/html" else "plain")
        try:
            if integration.smtp_host:
                with smtplib.SMTP(integration.smtp_host, integration.smtp_port, timeout=self.timeout) as smtp:
                    smtp.send_message(message, to_addrs=to)
            else:
                path = self.account.path("mail", f"{path_segment(integration.name)}.mbox")
                # mbox's dot-lock refuses a second writer instead of waiting, even in this process.
                with _mailbox_lock(path):
                    box = mailbox.mbox(path)
                    box.lock()
                    try:
                        box.add(message)
                        box.flush()
                    finally:
                        box.unlock()
                        box.close()
        except smtplib.SMTPResponseException as exc:
            raise _Undelivered(
                f"SMTP {exc.smtp_code} {exc.smtp_error!r}", retry=400 <= exc.smtp_code < 500
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise _Undelivered(f"email delivery failed: {exc}", retry=True) from None
        except mailbox.Error as exc:  # another process holds the mailbox lock
            raise _Undelivered(f"the local mailbox is busy: {exc}", retry=True) from None

    def _record(
        self, integration: Integration, subject: str, body: str, attempts: int, error: str | None
    ) -> None:
        now = catalog_now()
        with translated("recording the notification in the outbox"), self.account.transaction() as cur:
            # Unsent messages stay whatever their age: they are what someone has to look at.
            cur.execute(
                "delete from NOTIFICATION_OUTBOX where STATUS = 'SENT' and CREATED_ON < ?",
                [now - self.retention],
            )
            cur.execute(
                "insert into NOTIFICATION_OUTBOX values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    uuid.uuid4().hex,
                    integration.name,
                    integration.type.value,
                    subject,
                    body,
                    "FAILED" if error else "SENT",
                    attempts,
                    error,
                    now,
                ],
            )


def _mailbox_lock(path: Path) -> threading.Lock:
    with _MAILBOX_LOCKS_LOCK:
        return _MAILBOX_LOCKS.setdefault(path.resolve(), threading.Lock())


def _redact(text: str, secret: str | None) -> str:
    """The secret taken out of ``text`` as it may appear there: as is, stripped, escaped as Python and HTTP
    errors quote it, or %-encoded as in a URL."""
    if not secret:
        return text
    forms = {secret, secret.strip(), repr(secret)[1:-1], repr(secret.encode())[2:-1], quote(secret)}
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, "<redacted>")
    return text
