"""``setup``: create what the guide's setup creates, one function per backend (the container's ``setup``
chooses). Idempotent; returns lines to print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.settings import WEBHOOK_SECRET_ENV, Settings
from domain.errors import BackendUnavailable, NotFound

DEFAULT_ROWS = 369_245


def setup_simulator(
    account: Any,
    settings: Settings,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = 42,
    signal: float = 1.0,
    data: str | None = None,
    force: bool = False,
) -> list[str]:
    from adapters.simulator.notifications.integrations import IntegrationCatalog
    from adapters.simulator.setup import setup_account

    n = settings.names
    new_home = account.is_new
    report = setup_account(
        account,
        rows=rows,
        seed=seed,
        signal=signal,
        data=Path(data) if data else None,
        force=force,
        database=n.database,
        schema=n.schema,
        data_schema=n.data_schema,
        source_table=settings.pipeline.source_table,
        compute_pool=settings.pipeline.compute_pool,
        compute_pool_max_nodes=n.compute_pool_max_nodes,
    )
    try:
        return [
            *report.messages,
            *_ensure_notifications(IntegrationCatalog(account), settings, account.files),
        ]
    except BaseException:
        if new_home:  # all or nothing, as setup_account: a failed first setup leaves no home behind
            account.discard_on_close()
        raise


def _ensure_notifications(catalog: Any, settings: Settings, files: Path) -> list[str]:
    lines: list[str] = []
    name = settings.pipeline.notification_integration
    if settings.webhook is not None:
        # Re-running setup replaces both, so a rotated secret or a new URL takes effect.
        secret = f"{name}_SECRET"
        catalog.create_secret(secret, settings.webhook.secret, or_replace=True)
        catalog.create_integration(
            name,
            type="WEBHOOK",
            or_replace=True,
            webhook_url=settings.webhook.url,
            webhook_secret=secret,
            webhook_body_template=settings.webhook.BODY_TEMPLATE,
            webhook_headers=settings.webhook.HEADERS,
        )
        lines.append(
            f"Created webhook notification integration {name} posting to {settings.webhook.url}, with secret "
            f"{secret} (from ${WEBHOOK_SECRET_ENV}) as its Bearer token."
        )
        return lines
    try:
        catalog.get_integration(name)
        lines.append(f"Notification integration {name} already exists.")
    except NotFound:
        catalog.create_integration(
            name,
            type="EMAIL",
            default_recipients=("ml-team@localhost",),
            default_subject="Model Training Status",
        )
        mail = files / "mail"
        lines.append(f"Created email notification integration {name}; its mail goes to a mailbox in {mail}.")
    return lines


def setup_snowflake_account(
    session: Any,
    names: Any,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = 42,
    signal: float = 1.0,
    data: str | None = None,
    force: bool = False,
    webhook: Any = None,
) -> list[str]:
    # ``force`` replaces a source table that has rows (a new data version), as on the simulator; without it
    # an existing non-empty table is kept. ``webhook``: a ``notifier.WebhookSetup`` from ``[webhook]``.
    from adapters.snowflake.setup import setup_snowflake

    frame = None
    if data is None:
        # The generator is plain numpy/pandas; its rows are uploaded as the source table.
        from adapters.simulator.feature_store.data_generator import generate_mortgage_data

        frame = generate_mortgage_data(rows=rows, seed=seed, signal=signal)
    report = setup_snowflake(
        session,
        names,
        data=frame,
        data_path=Path(data) if data else None,
        replace_data=force,
        webhook=webhook,
    )
    lines = [f"Created or verified {what}." for what in report.created]
    if report.rows_uploaded:
        lines.append(f"Uploaded {report.rows_uploaded} rows to the source table.")
    if not report.ok:
        fixes = "\n".join(
            f"  {what}: run as an administrator:\n    {fix}" for what, fix in report.missing.items()
        )
        raise BackendUnavailable("\n".join([*lines, "Setup is incomplete; missing objects:", fixes]))
    return lines
