"""``doctor`` on a real account: would a deploy (and its first run) work? One ``Check`` per piece.

The fixes are setup's own (``setup.required_objects`` for what an administrator creates, ``setup_statements``
for what setup creates), so a statement is written once. Existence is a non-empty ``SHOW … LIKE``, as setup
and Snowpark itself decide it (snowflake/snowpark/stored_procedure_profiler.py
``StoredProcedureProfiler.set_target_stage``: ``show stages like '<stage>' in schema <db>.<schema>``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from adapters.snowflake.errors import vendor_errors
from adapters.snowflake.notifier import WebhookSetup, is_webhook
from adapters.snowflake.rows import row_dict
from adapters.snowflake.scheduler import deploy_packages
from adapters.snowflake.session import SnowflakeNames
from adapters.snowflake.setup import (
    describe_integration,
    integration_label,
    required_objects,
    setup_statements,
)
from adapters.snowflake.sql_text import string_literal
from domain.errors import DomainError
from domain.readiness import Check

SETUP_COMMAND = "python -m app setup --backend snowflake"
# Where the ORGADMIN accepts the terms; the link Snowpark's own error gives (snowflake/snowpark/session.py
# ``Session._get_dependency_packages``: "Anaconda terms must be accepted by ORGADMIN …"). There is no SQL for it.
ANACONDA_FIX = (
    "an ORGADMIN accepts the Anaconda terms in Snowsight (Admin » Terms » Anaconda); see "
    "https://docs.snowflake.com/en/developer-guide/udf/python/udf-python-packages.html"
    "#using-third-party-packages-from-anaconda"
)


def _failed(name: str, exc: DomainError, fix: str) -> Check:
    return Check(name, False, str(exc), fix)


class SnowflakeDoctor:
    """Checks the account through a session opened lazily (a connection that fails is itself a check)."""

    def __init__(
        self,
        session: Callable[[], Any],
        names: SnowflakeNames,
        *,
        target_instances: int,
        connection: str | None,
        webhook: WebhookSetup | None = None,
    ) -> None:
        self._open = session
        self.names = names
        self.target_instances = target_instances
        self.connection = connection
        self.webhook = webhook  # [webhook]: the integration must be a webhook posting to its URL

    def checks(self) -> list[Check]:
        try:
            session = self._open()
        except DomainError as exc:
            where = (
                f"the [{self.connection}] entry of connections.toml"
                if self.connection
                else "SNOWFLAKE_* env vars"
            )
            return [
                _failed("connection", exc, f"fix {where} (account, user, authentication), or pass -c NAME")
            ]
        role = self._role(session)
        if len(role) == 1:  # no query runs: nothing else can be checked
            return role
        return [
            *role,
            *self._admin_objects(session),
            *self._setup_objects(session),
            self._anaconda_terms(session),
            *self._packages(session),
        ]

    def _role(self, session: Any) -> list[Check]:
        try:
            with vendor_errors("the connection"):
                current = session.sql("SELECT CURRENT_ROLE()").collect()[0][0]
        except DomainError as exc:
            return [_failed("connection", exc, "check the account, user and network, then run doctor again")]
        connected = Check("connection", True, "connected; queries run")
        wanted = self.names.resolved("role")
        if current == wanted:
            return [connected, Check("role", True, f"current role {current}")]
        fix = (
            f"GRANT ROLE {self.names.role} TO USER <you> (as an administrator), and set role = "
            f"{json.dumps(wanted)} in the connection entry or [names] role"
        )
        return [connected, Check("role", False, f"the session's role is {current}, not {wanted}", fix)]

    def _admin_objects(self, session: Any) -> list[Check]:
        """The compute pool, warehouse and notification integration, with setup's CREATE/GRANT as the fix."""
        checks = []
        for label, (show, fix) in required_objects(self.names, self.webhook).items():
            try:
                with vendor_errors(label, fix=fix):
                    rows = session.sql(show).collect()
            except DomainError as exc:
                checks.append(_failed(label, exc, fix))
                continue
            if not rows:
                checks.append(Check(label, False, "does not exist or is not visible to this role", fix))
            elif show.upper().startswith("SHOW COMPUTE POOLS"):
                checks.append(self._pool_size(label, row_dict(rows[0], "lower")))
            elif label == integration_label(self.names):
                checks.append(self._integration(session, label, row_dict(rows[0], "lower"), fix))
            else:
                checks.append(Check(label, True, "exists"))
        return checks

    def _pool_size(self, label: str, pool: dict[str, Any]) -> Check:
        # snowflake/ml/jobs/job_definition.py MLJobDefinition._register reads int(pool_info["max_nodes"]).
        max_nodes = int(pool["max_nodes"])
        if self.target_instances <= max_nodes:
            return Check(label, True, f"exists, MAX_NODES {max_nodes}")
        return Check(
            label,
            False,
            f"MAX_NODES {max_nodes} is below target_instances {self.target_instances}",
            f"ALTER COMPUTE POOL {self.names.compute_pool} SET MAX_NODES = {self.target_instances}",
        )

    def _integration(self, session: Any, label: str, shown: dict[str, Any], fix: str) -> Check:
        """Its type and state (SHOW), and for a webhook its URL and secret (DESCRIBE; never a secret's value)."""
        name = self.names.notification_integration
        if str(shown.get("enabled", "true")).lower() != "true":
            return Check(label, False, "disabled", f"ALTER INTEGRATION {name} SET ENABLED = TRUE")
        if not is_webhook(shown):
            kind = str(shown.get("type") or "").upper()
            if self.webhook is None:
                return Check(label, True, f"exists ({kind}, enabled)" if kind else "exists (enabled)")
            return Check(
                label, False, f"not a webhook ({kind or 'type not shown'}), but [webhook] url is set", fix
            )
        try:
            with vendor_errors(label):
                described = describe_integration(session, self.names)
        except DomainError as exc:
            return _failed(label, exc, f"GRANT USAGE ON INTEGRATION {name} TO ROLE {self.names.role}")
        url, secret = described.get("WEBHOOK_URL", ""), described.get("WEBHOOK_SECRET", "")
        state = f"WEBHOOK, enabled, posting to {url or '(no URL)'}, secret {secret or '(none)'}"
        if self.webhook is not None and url != self.webhook.url:
            return Check(label, False, f"{state}; [webhook] url is {self.webhook.url}", fix)
        if self.webhook is not None and not secret:
            return Check(label, False, f"{state}; the Bearer token needs the secret", fix)
        return Check(label, True, state)

    def _setup_objects(self, session: Any) -> list[Check]:
        """Database, schemas and stages, each fixed by the ``setup_statements`` entry that creates it."""
        n = self.names
        statements = setup_statements(n)
        wanted = [
            ("database", n.database, f"SHOW DATABASES LIKE {string_literal(n.resolved('database'))}"),
            *(
                ("schema", f"{n.database}.{getattr(n, f)}",
                 f"SHOW SCHEMAS LIKE {string_literal(n.resolved(f))} IN DATABASE {n.database}")
                for f in dict.fromkeys(("schema", "data_schema"))
            ),
            *(
                ("stage", f"{fqn}.{getattr(n, f)}",
                 f"SHOW STAGES LIKE {string_literal(n.resolved(f))} IN SCHEMA {fqn}")
                for fqn, f in ((n.schema_fqn, "dag_stage_name"), (n.schema_fqn, "job_stage_name"),
                               (n.data_schema_fqn, "udf_stage_name"))
            ),
        ]  # fmt: skip
        checks = []
        for kind, name, show in wanted:
            label = f"{kind} {name}"
            # setup's own statement for this object (looked up, not rewritten); setup itself always fixes it
            creates = f"CREATE {kind.upper()} IF NOT EXISTS {name}"
            fix = next((f"{s} (or: {SETUP_COMMAND})" for s in statements if s == creates), SETUP_COMMAND)
            try:
                with vendor_errors(label, fix=fix):
                    rows = session.sql(show).collect()
            except DomainError as exc:
                checks.append(_failed(label, exc, fix))
                continue
            checks.append(
                Check(label, True, "exists") if rows else Check(label, False, "does not exist", fix)
            )
        return checks

    def _anaconda_terms(self, session: Any) -> Check:
        # snowflake/snowpark/session.py Session._is_anaconda_terms_acknowledged: the query Snowpark runs before
        # it refuses a package "because Anaconda terms must be accepted by ORGADMIN".
        name = "Anaconda terms"
        try:
            with vendor_errors(name):
                accepted = session.sql("select system$are_anaconda_terms_acknowledged()").collect()[0][0]
        except DomainError as exc:
            return _failed(name, exc, ANACONDA_FIX)
        if accepted:
            return Check(name, True, "acknowledged")
        return Check(name, False, "not acknowledged: Snowpark refuses the task packages", ANACONDA_FIX)

    def _packages(self, session: Any) -> list[Check]:
        """Each package a deployed task lists, served by the account's Anaconda channel in a matching version.

        The query is Snowpark's own (snowflake/snowpark/session.py ``Session._get_available_versions_for_packages``):
        ``information_schema.packages`` filtered to ``language = 'python'``, versions aggregated per package; a
        requirement is met when a listed version satisfies its specifier (``_get_dependency_packages``).
        """
        from packaging.requirements import Requirement
        from snowflake.snowpark.functions import array_agg, col

        wanted = [Requirement(p) for p in deploy_packages()]
        table = "information_schema.packages"
        fix = f"let role {self.names.role} query {table} (Snowpark resolves the task packages with it)"
        try:
            with vendor_errors(table, fix=fix):
                if not session.get_current_database():  # as Snowpark does without a current database
                    table = f"snowflake.{table}"
                rows = (
                    session.table(table)
                    .filter((col("language") == "python") & col("package_name").in_([r.name for r in wanted]))
                    .group_by("package_name")
                    .agg(array_agg("version"))
                    .collect()
                )
        except DomainError as exc:
            return [_failed("package availability", exc, fix)]
        available = {row[0]: json.loads(row[1]) for row in rows}
        checks = []
        for req in wanted:
            label = f"package {req}"
            versions = available.get(req.name, [])
            matching = [v for v in versions if not req.specifier or req.specifier.contains(v)]
            if matching:
                checks.append(Check(label, True, f"served: {', '.join(matching[-3:])}"))
            else:
                served = f"served versions: {', '.join(versions)}" if versions else "not served"
                fix = (
                    f"pin {req.name} to a served version in DEPLOY_PACKAGES" if versions
                    else f"{req.name} is not on this account's Anaconda channel; ship it as an import instead"
                )  # fmt: skip
                checks.append(Check(label, False, f"{served} (needed: {req})", fix))
        return checks
