"""Launching run groups: run ids, the NO_OVERLAP queue, RETRY LAST, cancelling, and auto-suspend.

Manual runs follow the overlap policy: under NO_OVERLAP a run requested while one is executing is queued
until it ends, and another request before the queued run starts replaces it (taskgraph-semantics.md §3.8):
the queued run takes the newer request's config, keeps its run id and scheduled time, and both callers get
that run id, so ``wait`` on either follows the one run that happens. Under ALLOW_CHILD_OVERLAP and
ALLOW_ALL_OVERLAP a run starts at once (the dummy root finishes immediately, so the two coincide here).
RETRY LAST while a run of the graph is executing or queued is refused with ``Conflict``.

Run ids are unique per graph: launches are serialised, so allocating an id and registering its run are one
step. Each run group executes on its own thread; after it ends, SUSPEND_TASK_AFTER_NUM_FAILURES is applied.

The launcher owns the live run groups of this process (``_live``, and ``_kept`` for ended ones the store may not
hold — cancelled while queued, or ended by an engine error such as a full disk — so ``wait`` still finds them and
re-raises that error) and each group's ``queued``/``dropped`` flags, all under ``_changed``.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import datetime
from typing import Any

from adapters.simulator.taskgraph.attempt import EngineServices
from adapters.simulator.taskgraph.model import GraphDef
from adapters.simulator.taskgraph.run_group import RunGroup
from adapters.simulator.taskgraph.run_meta import Carried, RunMeta, carried_tasks, last_success, merge_config
from adapters.simulator.taskgraph.store import GraphRecord, GraphStore
from domain.errors import Conflict, InvalidConfig, JobTimeout
from domain.graph import GraphRunState, OverlapPolicy, ScheduledFrom, TaskState
from domain.schedule import Clock

SUSPENDED_DUE_TO_ERRORS = "SUSPENDED_DUE_TO_ERRORS"


class Launcher:
    def __init__(self, services: EngineServices, clock: Clock) -> None:
        self._services = services
        self._store: GraphStore = services.store
        self._clock = clock
        self._changed = threading.Condition()
        self._live: dict[str, list[RunGroup]] = {}
        self._kept: dict[tuple[str, int], RunGroup] = {}  # ended without a (final) row: kept for wait
        self._threads: list[threading.Thread] = []
        # One launch at a time: checking live runs, allocating a run id and registering the run are one step.
        self._launching = threading.Lock()

    def launch(
        self,
        record: GraphRecord,
        graph: GraphDef,
        *,
        retry_last: bool,
        config: dict[str, Any] | None,
        scheduled_time: datetime | None = None,
        scheduled_from: ScheduledFrom = ScheduledFrom.EXECUTE_TASK,
    ) -> RunGroup:
        if retry_last and config is not None:
            raise InvalidConfig("RETRY LAST reuses the failed run's config; do not pass config= with it")
        no_overlap = record.overlap_policy == OverlapPolicy.NO_OVERLAP
        with self._launching:
            with self._changed:
                ahead = list(self._live.get(graph.name, []))
            if retry_last:
                if ahead:
                    raise Conflict(
                        f"RETRY LAST: run {ahead[0].meta.run_id} of task graph {graph.name} is still in progress; "
                        "wait for it to end, then retry"
                    )
                group, attempt, carried = self._retry(record, graph)
                scheduled_from = ScheduledFrom.MANUAL_RETRY
            else:
                run_config = merge_config(record.config, config)
                if no_overlap and (replaced := self._replace_queued(graph.name, run_config)) is not None:
                    return replaced
                when = scheduled_time or self._clock()
                group = RunGroup(
                    RunMeta(
                        graph=graph,
                        graph_version=record.graph_version,
                        root_uuid=record.root_uuid,
                        run_id=self._new_run_id(graph.name, when, ahead),
                        group_id=str(uuid.uuid4()),
                        scheduled_time=when,
                        config=run_config,
                        last_successful=last_success(self._store, graph.name),
                    )
                )
                attempt, carried = 1, {}
            group.queued = no_overlap and bool(ahead)
            with self._changed:
                self._live.setdefault(graph.name, []).append(group)
        thread = threading.Thread(
            target=self._execute,
            args=(group, ahead if no_overlap else [], attempt, scheduled_from, carried),
            name=f"graph run {graph.name} {group.meta.run_id}",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return group

    def find(self, name: str, run_id: int) -> RunGroup | None:
        """The run group of this process with that id: executing, queued, dropped while queued or ended by an
        engine error."""
        with self._changed:
            group = next((r for r in self._live.get(name, []) if r.meta.run_id == run_id), None)
            return group or self._kept.get((name, run_id))

    def cancel(self, name: str) -> list[int]:
        """Cancel the graph's executing run groups and drop its queued ones; returns their run ids at once."""
        with self._changed:
            groups = [r for r in self._live.get(name, []) if not r.dropped]
            for group in groups:
                if group.queued:
                    group.dropped = True
                else:
                    group.cancel()
        return [r.meta.run_id for r in groups]

    def is_executing(self, name: str) -> bool:
        with self._changed:
            return bool(self._live.get(name))

    def live_task_states(self, name: str, run_id: int) -> dict[str, TaskState] | None:
        """Task states of an in-flight run (short names), or None once it has ended."""
        with self._changed:
            group = next((r for r in self._live.get(name, []) if r.meta.run_id == run_id), None)
            return None if group is None else {n: s for n, s in dict(group.states).items() if n}

    def wait_all(self) -> None:
        for thread in list(self._threads):
            thread.join()

    @staticmethod
    def wait(group: RunGroup, timeout: float | None) -> RunGroup:
        """Wait for the run group to end; re-raises an error of the engine itself."""
        if not group.done.wait(timeout):
            raise JobTimeout(
                f"run {group.meta.run_id} of task graph {group.meta.graph.name} did not end in {timeout} s"
            )
        if group.error is not None:
            raise group.error
        return group

    def _replace_queued(self, name: str, config: dict[str, Any]) -> RunGroup | None:
        """NO_OVERLAP: a queued run takes over a newer EXECUTE's config; None when no run is queued."""
        with self._changed:
            queued = next((r for r in self._live.get(name, []) if r.queued and not r.dropped), None)
            if queued is not None:
                queued.meta = dataclasses.replace(queued.meta, config=config)
            return queued

    def _retry(self, record: GraphRecord, graph: GraphDef) -> tuple[RunGroup, int, Carried]:
        """RETRY LAST: a new attempt of the last run group, keeping what succeeded or was skipped."""
        last = self._store.runs(graph.name, limit=1)
        if not last or last[0].state not in {GraphRunState.FAILED, GraphRunState.CANCELLED}:
            state = last[0].state if last else "none"
            raise Conflict(
                f"RETRY LAST needs the last run of task graph {graph.name} to be FAILED or CANCELLED; it is {state}"
            )
        run = last[0]
        if run.graph_version != record.graph_version:
            raise Conflict(
                f"RETRY LAST: task graph {graph.name} changed since run {run.run_id} (version {run.graph_version} → "
                f"{record.graph_version}); start a new run instead"
            )
        values: dict[str, str | None] = {}
        for row in self._store.history(graph.name, group_id=run.graph_run_group_id):
            short = graph.by_full_name.get(row.name)
            if short is not None and row.state is TaskState.SUCCEEDED:
                values[short] = row.return_value
        meta = RunMeta(
            graph=graph,
            graph_version=record.graph_version,
            root_uuid=record.root_uuid,
            run_id=run.run_id,
            group_id=run.graph_run_group_id,
            scheduled_time=run.scheduled_time,
            config=run.config,
            last_successful=last_success(self._store, graph.name),
        )
        return RunGroup(meta), run.attempt_number + 1, carried_tasks(run.task_states, values)

    def _execute(
        self,
        group: RunGroup,
        queued_behind: list[RunGroup],
        attempt: int,
        scheduled_from: ScheduledFrom,
        carried: Carried,
    ) -> None:
        try:
            for earlier in queued_behind:  # NO_OVERLAP: a manual run waits for the executing one
                earlier.done.wait()
            with self._changed:  # from here on a newer EXECUTE queues behind this run instead of replacing it
                group.queued = False
            if not group.dropped:
                group.run(self._services, attempt=attempt, scheduled_from=scheduled_from, carried=carried)
                self._count_failures(group)
        except BaseException as exc:  # surfaced by run()/wait(); never lost in a background thread
            group.error = exc
        finally:
            with self._changed:
                self._live[group.meta.graph.name].remove(group)
                if group.dropped or group.error is not None:
                    self._kept[(group.meta.graph.name, group.meta.run_id)] = group
                self._changed.notify_all()
            group.done.set()

    def _count_failures(self, group: RunGroup) -> None:
        """SUSPEND_TASK_AFTER_NUM_FAILURES: count finally-FAILED run groups in a row; suspend at the limit."""
        record, graph = group.record, group.meta.graph
        stored = self._store.graph(graph.name)
        if record is None or stored is None or record.state is GraphRunState.CANCELLED:
            return
        if record.state is GraphRunState.SUCCEEDED:
            self._store.update_graph(graph.name, consecutive_failures=0)
            return
        failures = stored.consecutive_failures + 1
        if 0 < stored.suspend_after <= failures:
            self._store.update_graph(
                graph.name,
                consecutive_failures=failures,
                state="suspended",
                next_due=None,
                last_suspended_reason=SUSPENDED_DUE_TO_ERRORS,
            )
            if record.first_error_task_name:
                self._store.mark_state(
                    record.graph_run_group_id,
                    record.attempt_number,
                    record.first_error_task_name,
                    TaskState.FAILED_AND_AUTO_SUSPENDED,
                )
        else:
            self._store.update_graph(graph.name, consecutive_failures=failures)

    def _new_run_id(self, name: str, when: datetime, live: list[RunGroup]) -> int:
        """Epoch milliseconds of the scheduled time, nudged forward when two runs share a millisecond.

        Called under ``_launching`` with the graph's live runs, so no other launch can take the same id.
        """
        run_id = int(when.timestamp() * 1000)
        taken = {r.meta.run_id for r in live}
        while run_id in taken or self._store.runs(name, run_id=run_id, limit=1):
            run_id += 1
        return run_id
