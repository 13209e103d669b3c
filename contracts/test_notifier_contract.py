"""Notifier contract (``domain.ports.Notifier``), run against every selected backend."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import InvalidConfig, NotFound
from domain.ports import Notifier
from domain.refs import Notification

MESSAGE = Notification(subject="Model Training Status", body="quality check failed")


@pytest.fixture
def notifier(backend: Any) -> Notifier:
    if backend.name == "simulator":
        from adapters.simulator.notifier import SimNotifier

        return SimNotifier(backend.account)
    from adapters.snowflake.notifier import SnowflakeNotifier

    return SnowflakeNotifier(backend.session)


@pytest.fixture
def catalog(backend: Any) -> Any:
    if backend.name != "simulator":
        pytest.skip("creating integrations needs account-level privileges; the simulator defines its own")
    from adapters.simulator.integrations import IntegrationCatalog

    return IntegrationCatalog(backend.account)


def test_the_notifier_implements_the_port(notifier: Notifier) -> None:
    assert isinstance(notifier, Notifier)


def test_an_unknown_integration_is_not_found_by_name(notifier: Notifier) -> None:
    with pytest.raises(NotFound, match="NO_SUCH_INTEGRATION_XYZ"):
        notifier.send("NO_SUCH_INTEGRATION_XYZ", MESSAGE)


def test_an_email_integration_delivers(notifier: Notifier, catalog: Any) -> None:
    # Snowflake's INTEGRATION(name) mails the integration's DEFAULT_RECIPIENTS: a working one has them.
    catalog.create_integration(
        "contract_mail",
        type="EMAIL",
        default_recipients=["ops@example.com"],
        default_subject="Model Training Status",
    )
    notifier.send("contract_mail", MESSAGE)


def test_a_disabled_integration_is_refused_by_name(notifier: Notifier, catalog: Any) -> None:
    catalog.create_integration("contract_off", type="EMAIL", enabled=False)
    with pytest.raises(InvalidConfig, match="CONTRACT_OFF"):
        notifier.send("contract_off", MESSAGE)
