"""Notifier contract (``domain.ports.Notifier``), run against every selected backend."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.support import Backend
from domain.errors import InvalidConfig, NotFound
from domain.ports import Notifier
from domain.refs import Notification

MESSAGE = Notification(subject="Model Training Status", body="quality check failed")


@pytest.fixture
def notifier(backend: Backend) -> Notifier:
    return backend.notifier()


def test_the_notifier_implements_the_port(notifier: Notifier) -> None:
    assert isinstance(notifier, Notifier)


def test_an_unknown_integration_is_not_found_by_name(notifier: Notifier) -> None:
    with pytest.raises(NotFound, match="NO_SUCH_INTEGRATION_XYZ"):
        notifier.send("NO_SUCH_INTEGRATION_XYZ", MESSAGE)


def test_an_email_integration_delivers(notifier: Notifier, integrations: Any) -> None:
    # Snowflake's INTEGRATION(name) mails the integration's DEFAULT_RECIPIENTS: a working one has them.
    integrations.create(
        "contract_mail",
        type="EMAIL",
        default_recipients=["ops@example.com"],
        default_subject="Model Training Status",
    )
    notifier.send("contract_mail", MESSAGE)


def test_a_disabled_integration_is_refused_by_name(notifier: Notifier, integrations: Any) -> None:
    integrations.create("contract_off", type="EMAIL", enabled=False)
    with pytest.raises(InvalidConfig, match="CONTRACT_OFF"):
        notifier.send("contract_off", MESSAGE)
