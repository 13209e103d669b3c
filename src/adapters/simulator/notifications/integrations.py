"""Notification integrations and secrets defined in the simulator home (CREATE NOTIFICATION INTEGRATION/SECRET).

Two kinds, as in the guide's setup: ``EMAIL`` (default recipients and subject; delivered to a local mailbox file,
or to an SMTP host when one is configured) and ``WEBHOOK`` (URL, body template with the
``SNOWFLAKE_WEBHOOK_MESSAGE`` placeholder, headers, and a ``GENERIC_STRING`` secret substituted for
``SNOWFLAKE_WEBHOOK_SECRET`` at send time). Secret values live in their own table and are only read by the
notifier when it sends; listings and errors never show them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from adapters.simulator.account.clock import catalog_now
from adapters.simulator.account.errors import translated
from adapters.simulator.account.home import LocalAccount
from adapters.simulator.account.webhook_content import SECRET_PLACEHOLDER
from domain.errors import AlreadyExists, InvalidConfig, NotFound
from domain.names import normalize_identifier

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+$")

_DDL = (
    "create table if not exists NOTIFICATION_INTEGRATIONS(NAME VARCHAR, TYPE VARCHAR, ENABLED BOOLEAN, "
    "SETTINGS VARCHAR, COMMENT VARCHAR, CREATED_ON TIMESTAMP)",
    "create table if not exists SECRETS(NAME VARCHAR, SECRET_TYPE VARCHAR, SECRET_STRING VARCHAR, "
    "CREATED_ON TIMESTAMP)",
)


class IntegrationType(StrEnum):
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


@dataclass(frozen=True)
class Integration:
    """One notification integration; ``webhook_secret`` is the secret's name, never its value."""

    name: str
    type: IntegrationType
    enabled: bool = True
    default_recipients: tuple[str, ...] = ()
    default_subject: str = ""
    smtp_host: str | None = None
    smtp_port: int = 25
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_body_template: str | None = None
    webhook_headers: Mapping[str, str] = field(default_factory=dict)
    comment: str = ""

    def settings(self) -> dict[str, Any]:
        if self.type is IntegrationType.EMAIL:
            return {
                "default_recipients": list(self.default_recipients),
                "default_subject": self.default_subject,
                "smtp_host": self.smtp_host,
                "smtp_port": self.smtp_port,
            }
        return {
            "webhook_url": self.webhook_url,
            "webhook_secret": self.webhook_secret,
            "webhook_body_template": self.webhook_body_template,
            "webhook_headers": dict(self.webhook_headers),
        }


class IntegrationCatalog:
    """Notification integrations and secrets of one simulator home."""

    def __init__(self, account: LocalAccount) -> None:
        self.account = account
        with translated("creating the integration tables"), account.cursor() as cur:
            for ddl in _DDL:
                cur.execute(ddl)

    def create_secret(self, name: str, value: str, *, or_replace: bool = False) -> None:
        """``CREATE SECRET name TYPE = GENERIC_STRING SECRET_STRING = value``."""
        secret = normalize_identifier(name, "secret")
        if not isinstance(value, str) or not value:
            raise InvalidConfig(f"secret {secret} needs a non-empty string value")
        if any(unicodedata.category(c) == "Cc" for c in value):
            # Never echo the value: it is the secret. A token pasted from a file often keeps its newline.
            raise InvalidConfig(
                f"secret {secret} holds control characters (a newline, tab or similar, often a trailing "
                f"newline pasted from a file); remove them and create the secret again"
            )
        with translated(f"creating secret {secret}"), self.account.transaction() as cur:
            exists = cur.execute("select 1 from SECRETS where NAME = ?", [secret]).fetchone()
            if exists and not or_replace:
                raise AlreadyExists(f"secret {secret} already exists; use or_replace=True to replace it")
            cur.execute("delete from SECRETS where NAME = ?", [secret])
            cur.execute(
                "insert into SECRETS values (?, 'GENERIC_STRING', ?, ?)", [secret, value, catalog_now()]
            )

    def secret_value(self, name: str) -> str:
        secret = normalize_identifier(name, "secret")
        with translated(f"reading secret {secret}"), self.account.cursor() as cur:
            row = cur.execute("select SECRET_STRING from SECRETS where NAME = ?", [secret]).fetchone()
        if row is None:
            raise NotFound(f"secret {secret} does not exist or not authorized")
        return str(row[0])

    def create_integration(
        self,
        name: str,
        *,
        type: str,
        enabled: bool = True,
        or_replace: bool = False,
        default_recipients: Sequence[str] = (),
        default_subject: str = "",
        smtp_host: str | None = None,
        smtp_port: int = 25,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_body_template: str | None = None,
        webhook_headers: Mapping[str, str] | None = None,
        comment: str = "",
    ) -> Integration:
        """``CREATE [OR REPLACE] NOTIFICATION INTEGRATION``; settings of the other type are refused."""
        kind = _integration_type(type)
        integration_name = normalize_identifier(name, "notification integration")
        webhook_given = any(
            v is not None for v in (webhook_url, webhook_secret, webhook_body_template, webhook_headers)
        )
        email_given = bool(default_recipients) or bool(default_subject) or smtp_host is not None
        if kind is IntegrationType.EMAIL:
            if webhook_given:
                raise InvalidConfig(f"EMAIL integration {integration_name} takes no WEBHOOK_* settings")
            integration = Integration(
                integration_name,
                kind,
                enabled=enabled,
                default_recipients=_recipients(default_recipients, integration_name),
                default_subject=default_subject,
                smtp_host=smtp_host,
                smtp_port=_port(smtp_port, integration_name),
                comment=comment,
            )
        else:
            if email_given:
                raise InvalidConfig(
                    f"WEBHOOK integration {integration_name} takes no recipients, subject or SMTP host"
                )
            integration = Integration(
                integration_name,
                kind,
                enabled=enabled,
                webhook_url=_url(webhook_url, integration_name),
                webhook_secret=None
                if webhook_secret is None
                else normalize_identifier(webhook_secret, "secret"),
                webhook_body_template=webhook_body_template,
                webhook_headers={str(k): str(v) for k, v in (webhook_headers or {}).items()},
                comment=comment,
            )
            self._check_secret_use(integration)
        with translated(f"creating integration {integration_name}"), self.account.transaction() as cur:
            exists = cur.execute(
                "select 1 from NOTIFICATION_INTEGRATIONS where NAME = ?", [integration_name]
            ).fetchone()
            if exists and not or_replace:
                raise AlreadyExists(
                    f"notification integration {integration_name} already exists; use or_replace=True"
                )
            cur.execute("delete from NOTIFICATION_INTEGRATIONS where NAME = ?", [integration_name])
            cur.execute(
                "insert into NOTIFICATION_INTEGRATIONS values (?, ?, ?, ?, ?, ?)",
                [
                    integration_name,
                    kind.value,
                    enabled,
                    json.dumps(integration.settings()),
                    comment,
                    catalog_now(),
                ],
            )
        return integration

    def _check_secret_use(self, integration: Integration) -> None:
        texts = [integration.webhook_url, integration.webhook_body_template or ""]
        texts += [*integration.webhook_headers.keys(), *integration.webhook_headers.values()]
        if integration.webhook_secret is not None:
            self.secret_value(integration.webhook_secret)  # NotFound when it does not exist
        elif any(SECRET_PLACEHOLDER in t for t in texts):
            raise InvalidConfig(
                f"integration {integration.name} uses {SECRET_PLACEHOLDER} but names no webhook_secret"
            )

    def set_enabled(self, name: str, enabled: bool) -> None:
        """``ALTER NOTIFICATION INTEGRATION name SET ENABLED = TRUE|FALSE``."""
        integration = self.get_integration(name)
        with translated(f"altering integration {integration.name}"), self.account.cursor() as cur:
            cur.execute(
                "update NOTIFICATION_INTEGRATIONS set ENABLED = ? where NAME = ?", [enabled, integration.name]
            )

    def drop_integration(self, name: str, *, if_exists: bool = False) -> None:
        integration_name = normalize_identifier(name, "notification integration")
        with translated(f"dropping integration {integration_name}"), self.account.transaction() as cur:
            exists = cur.execute(
                "select 1 from NOTIFICATION_INTEGRATIONS where NAME = ?", [integration_name]
            ).fetchone()
            if not exists and not if_exists:
                raise NotFound(
                    f"notification integration {integration_name} does not exist or not authorized"
                )
            cur.execute("delete from NOTIFICATION_INTEGRATIONS where NAME = ?", [integration_name])

    def get_integration(self, name: str) -> Integration:
        integration_name = normalize_identifier(name, "notification integration")
        found = [i for i in self._load("where NAME = ?", [integration_name])]
        if not found:
            raise NotFound(f"notification integration {integration_name} does not exist or not authorized")
        return found[0]

    def list_integrations(self) -> list[Integration]:
        return self._load("order by NAME", [])

    def _load(self, clause: str, params: list[Any]) -> list[Integration]:
        with translated("reading notification integrations"), self.account.cursor() as cur:
            rows = cur.execute(
                f"select NAME, TYPE, ENABLED, SETTINGS, COMMENT from NOTIFICATION_INTEGRATIONS {clause}",
                params,
            ).fetchall()
        result = []
        for name, kind, enabled, settings, comment in rows:
            values = json.loads(settings)
            if "default_recipients" in values:
                values["default_recipients"] = tuple(values["default_recipients"])
            result.append(
                Integration(
                    name, IntegrationType(kind), enabled=bool(enabled), comment=comment or "", **values
                )
            )
        return result


def _integration_type(value: str) -> IntegrationType:
    try:
        return IntegrationType(str(value).upper())
    except ValueError:
        raise InvalidConfig(
            f"unknown notification integration type {value!r}; valid types are EMAIL and WEBHOOK"
        ) from None


def _recipients(values: Sequence[str], integration: str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    bad = [v for v in values if not isinstance(v, str) or not _EMAIL.match(v)]
    if bad:
        raise InvalidConfig(f"integration {integration}: invalid email addresses {bad}")
    return tuple(values)


def _port(value: int, integration: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise InvalidConfig(f"integration {integration}: SMTP port must be 1..65535, got {value!r}")
    return value


def _url(value: str | None, integration: str) -> str:
    if not value or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
        raise InvalidConfig(
            f"WEBHOOK integration {integration} needs webhook_url, an http(s) URL with a host; got {value!r}"
        )
    return value
