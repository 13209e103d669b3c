"""The public ``LocalDAGOperation``: the task-graph engine with the account's other ports wired by default.

``taskgraph.operation.LocalDAGOperation`` knows only the engine (the port folders are independent); this one
hands it the account's ``SimNotifier`` (email integrations to the local mailbox or SMTP, webhooks over HTTP)
and ``SimJobRunner`` unless told otherwise, so ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` and ``@remote`` /
``MLJobDefinition`` tasks work with no extra arguments. Jobs run on the pools the account holds; a temporary
account comes with ``DEMO_POOL`` (MAX_NODES 2), ``SimJobRunner``'s default for scripts, since nothing else
could create a pool in it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from adapters.simulator.account.home import LocalAccount
from adapters.simulator.notifications.notifier import SimNotifier
from adapters.simulator.taskgraph import operation
from domain.ports import Notifier
from domain.refs import JobRef


class LocalDAGOperation(operation.LocalDAGOperation):
    """``snowflake.core.task.dagv1.DAGOperation`` on a local account, its notifier and job runner included.

    Task bodies get a Snowpark ``Session`` on the account, so a DataFrame task and an ``@remote`` task run as
    on Snowflake::

        def totals(session):
            session.table("ORDERS").group_by("REGION").agg(sum_("AMOUNT")).write.save_as_table("TOTALS")

        @remote("DEMO_POOL", stage_name="JOB_STAGE", target_instances=1)
        def score(session):
            TaskContext(session).set_return_value(str(session.table("TOTALS").count()))

        with DAG("report") as dag:
            DAGTask("totals", totals) >> DAGTask("score", score)
        with LocalDAGOperation() as op:
            op.deploy(dag)
            print(op.run(dag).state)
    """

    _jobs: _DefaultJobRunner | None = None

    def _default_notifier(self) -> Notifier:
        return SimNotifier(self.account)

    def _default_job_runner(self, *, temporary: bool) -> Any:
        self._jobs = _DefaultJobRunner(self.account, temporary=temporary)
        return self._jobs

    def close(self) -> None:
        self.wait_all()
        if self._jobs is not None:
            self._jobs.close()  # its running jobs end CANCELLED before the account closes under them
        super().close()


class _DefaultJobRunner:
    """The account's ``SimJobRunner``, built when the first ML Job task runs: it imports XGBoost, which a graph
    without ML Jobs should not pay for."""

    def __init__(self, account: LocalAccount, *, temporary: bool) -> None:
        self._account = account
        self._temporary = temporary
        self._runner: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._runner is None:
                from adapters.simulator.jobs.runner import DEFAULT_POOLS, SimJobRunner

                pools: Mapping[str, int] = DEFAULT_POOLS if self._temporary else {}
                self._runner = SimJobRunner(self._account, pools)
            return self._runner

    def submit_function(self, func: Callable[..., Any], **options: Any) -> JobRef:
        job: JobRef = self._get().submit_function(func, **options)
        return job

    def function_result(self, job: JobRef, timeout: float | None = None) -> Any:
        return self._get().function_result(job, timeout)

    def cancel_submitted_by(self, thread_id: int) -> None:
        with self._lock:
            runner = self._runner
        if runner is not None:  # not built: nothing was submitted, so nothing to cancel
            runner.cancel_submitted_by(thread_id)

    def close(self) -> None:
        with self._lock:
            runner = self._runner
        if runner is not None:
            runner.close()
