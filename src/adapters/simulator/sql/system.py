"""The ``SYSTEM$…`` functions a running task calls, served by the engine (``hooks`` puts their values into the
statements the SQL server runs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlglot import exp

from adapters.simulator.account.webhook_content import redact_placeholders
from domain.errors import InvalidConfig, Unsupported
from domain.ports import Notifier
from domain.refs import Notification

if TYPE_CHECKING:
    from adapters.simulator.sql.taskgraph_sql import TaskGraphs


class TaskRuntime(Protocol):
    """The running task, as its SQL and its session see it."""

    full_name: str
    run_id: int

    def set_return_value(self, value: str) -> None: ...

    def predecessor_return_value(self, name: str | None) -> str | None: ...

    def graph_config(self) -> dict[str, Any]: ...

    def runtime_info(self, prop: str) -> str | None: ...

    def task_completion_state(self, name: str) -> str: ...

    def cancel_graph(self, name: str) -> list[int]: ...


@dataclass(frozen=True)
class _Message:
    body: str
    content_type: str


@dataclass(frozen=True)
class _Target:
    integration: str
    subject: str | None = None


class SystemFunctions:
    """``SYSTEM$…`` and ``SNOWFLAKE.NOTIFICATION.…`` functions for one running task."""

    def __init__(
        self, runtime: TaskRuntime, notifier: Notifier | None, graphs: TaskGraphs | None = None
    ) -> None:
        self._runtime = runtime
        self._notifier = notifier
        self.graphs = graphs  # the engine's Task Graph SQL (taskgraph_sql): EXECUTE TASK, TASK_HISTORY, …
        self._system: dict[str, Callable[..., Any]] = {
            "SYSTEM$SET_RETURN_VALUE": self._set_return_value,
            "SYSTEM$GET_PREDECESSOR_RETURN_VALUE": self._get_predecessor_return_value,
            "SYSTEM$GET_TASK_GRAPH_CONFIG": self._get_task_graph_config,
            "SYSTEM$CURRENT_USER_TASK_NAME": lambda: runtime.full_name,
            "SYSTEM$TASK_RUNTIME_INFO": lambda prop: runtime.runtime_info(str(prop).upper()),
            "SYSTEM$TASK_COMPLETION_STATE": lambda name: runtime.task_completion_state(str(name)),
            "SYSTEM$SEND_SNOWFLAKE_NOTIFICATION": self._send_notification,
            "SYSTEM$USER_TASK_CANCEL_ONGOING_EXECUTIONS": self._cancel_ongoing_executions,
            "SYSTEM$SEND_EMAIL": self._send_email,
            "SYSTEM$TASK_DEPENDENTS_ENABLE": self._task_dependents_enable,
        }
        self._notification: dict[str, Callable[..., Any]] = {
            "TEXT_PLAIN": lambda body: _Message(str(body), "text/plain"),
            "TEXT_HTML": lambda body: _Message(str(body), "text/html"),
            "APPLICATION_JSON": lambda body: _Message(str(body), "application/json"),
            "SANITIZE_WEBHOOK_CONTENT": lambda body: redact_placeholders(str(body)),
            "INTEGRATION": lambda name: _Target(str(name)),
            "EMAIL_INTEGRATION_CONFIG": lambda name, subject, *_addresses: _Target(str(name), str(subject)),
        }

    def call(self, name: str, *args: Any) -> Any:
        handler = self._system.get(name.upper())
        if handler is None:
            raise Unsupported(f"{name} is not available in the simulator; available: {sorted(self._system)}")
        try:
            return handler(*args)
        except TypeError as exc:
            raise InvalidConfig(f"{name.upper()} called with {len(args)} argument(s): {exc}") from exc

    def _set_return_value(self, value: Any) -> None:
        self._runtime.set_return_value(str(value))

    def _get_predecessor_return_value(self, name: str | None = None) -> str | None:
        return self._runtime.predecessor_return_value(name)

    def _get_task_graph_config(self, path: str | None = None) -> str | None:
        value: Any = self._runtime.graph_config()
        if not value:
            return None
        for key in path.split(".") if path else ():
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
        return value if isinstance(value, str) and path else json.dumps(value)

    def _cancel_ongoing_executions(self, name: Any) -> str:
        # Returns at once, so a task may cancel its own graph: it is then abandoned like the others.
        run_ids = self._runtime.cancel_graph(str(name))
        return (
            f"Cancelled {len(run_ids)} ongoing execution(s): {run_ids}"
            if run_ids
            else "No ongoing executions"
        )

    def _task_dependents_enable(self, name: Any) -> None:
        # docs: sql-reference/functions/system_task_dependents_enable (recursively resumes the task and its
        # dependents); a graph's tasks share its root's state here, so this resumes the graph.
        if self.graphs is None:
            raise Unsupported(
                "SYSTEM$TASK_DEPENDENTS_ENABLE needs the task engine: call it from a running task"
            )
        self.graphs.enable_dependents(str(name))

    def _send_email(
        self, integration: Any, recipients: Any, subject: Any, body: Any, mime_type: Any = "text/plain"
    ) -> bool:
        """docs: sql-reference/stored-procedures/system_send_email — returns TRUE once sent. The integration's
        mailbox receives the message: the notifier delivers per integration, not per address."""
        notifier = self._require_notifier("SYSTEM$SEND_EMAIL")
        addresses = [a.strip() for a in str(recipients or "").split(",") if a.strip()]
        if not addresses or any("@" not in a for a in addresses):
            raise InvalidConfig(
                f"SYSTEM$SEND_EMAIL recipients {recipients!r}: expected one or more comma-separated email addresses"
            )
        for what, value in (("subject", subject), ("content", body)):
            if not value:
                raise InvalidConfig(f"SYSTEM$SEND_EMAIL: the email {what} cannot be empty")
        if mime_type not in _EMAIL_TYPES:
            raise InvalidConfig(
                f"SYSTEM$SEND_EMAIL mime type {mime_type!r}: expected one of {list(_EMAIL_TYPES)}"
            )
        notifier.send(str(integration), Notification(str(subject), str(body), str(mime_type)))
        return True

    def _require_notifier(self, what: str) -> Notifier:
        if self._notifier is None:
            raise Unsupported(f"{what} needs a notifier: pass notifier=... to LocalDAGOperation")
        return self._notifier

    def _send_notification(self, messages: Any, targets: Any) -> str:
        notifier = self._require_notifier("SYSTEM$SEND_SNOWFLAKE_NOTIFICATION")
        messages = messages if isinstance(messages, list) else [messages]
        targets = targets if isinstance(targets, list) else [targets]
        for m in messages:
            if not isinstance(m, _Message):
                raise InvalidConfig(
                    f"notification message {m!r}: wrap it in SNOWFLAKE.NOTIFICATION.TEXT_PLAIN(...)"
                )
        for t in targets:
            if not isinstance(t, _Target):
                raise InvalidConfig(
                    f"notification target {t!r}: use SNOWFLAKE.NOTIFICATION.INTEGRATION('<name>')"
                )
            for m in messages:
                subject = t.subject or f"Snowflake notification from task {self._runtime.full_name}"
                notifier.send(t.integration, Notification(subject, m.body, m.content_type))
        return "Notification sent"

    def value_of(self, node: exp.Expr) -> Any:
        """Evaluate an argument: literals, arrays, and (nested) system or notification functions."""
        if isinstance(node, exp.Literal):
            return str(node.this) if node.is_string else json.loads(str(node.this))
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Array):
            return [self.value_of(e) for e in node.expressions]
        if isinstance(node, exp.Paren):
            return self.value_of(node.this)
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
            namespace = node.this.sql(dialect="snowflake").upper()
            fn = node.expression
            handler = self._notification.get(fn.name.upper())
            if namespace != "SNOWFLAKE.NOTIFICATION" or handler is None:
                raise Unsupported(f"{namespace}.{fn.name} is not available in the simulator")
            return handler(*(self.value_of(a) for a in fn.expressions))
        if isinstance(node, exp.Anonymous) and node.name.upper().startswith("SYSTEM$"):
            return self.call(node.name, *(self.value_of(a) for a in node.expressions))
        raise Unsupported(f"argument {node.sql(dialect='snowflake')!r} is not supported in a simulated CALL")


_EMAIL_TYPES = ("text/plain", "text/html")


def literal(value: Any) -> exp.Expr:
    """A SQL literal for a value a system function returned."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))
