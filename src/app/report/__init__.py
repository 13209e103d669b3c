"""``python -m app report``: one self-contained HTML page of the last runs, their graphs, the gate and the models.

``model`` builds the read model from the ports, ``layout`` and ``svg`` draw each run's graph, ``html`` renders
the page with Jinja2. ``ReportFile`` is what the commands hold: ``write`` always writes; ``refresh`` (after each
scheduler check) writes only when a run started or changed state since the last write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from pathlib import Path

from app.container import Container
from app.report.html import render_html, write_html
from app.report.model import Report, collect_report
from app.settings import Settings
from domain.graph import GraphSpec

log = logging.getLogger(__name__)


class ReportFile:
    def __init__(self, path: Path, collect: Callable[[], Report], signature: Callable[[], Hashable]) -> None:
        """``signature`` is a cheap read of what the report shows (the runs' ids and states): when it has not
        changed, ``refresh`` does not collect the whole report again."""
        self.path = path
        self._collect = collect
        self._signature = signature
        self._written: Hashable | None = None

    def write(self) -> Report:
        signature = self._signature()
        report = self._collect()
        write_html(self.path, render_html(report))
        self._written = signature
        return report

    def refresh(self) -> bool:
        """Rewrite the page if a run changed; a failure is logged, never raised: a report must not stop the
        scheduler that refreshes it."""
        try:
            if self._signature() == self._written:
                return False
            self.write()
        except Exception:
            log.exception("could not refresh the run report %s", self.path)
            return False
        return True


def report_file(path: Path, *, runs: int, graph: GraphSpec, settings: Settings, c: Container) -> ReportFile:
    """The report of ``graph``'s last ``runs`` runs and of the deployed model, read through the container's
    ports (either backend)."""
    scheduler, registry, jobs = c.scheduler(), c.registry(), c.jobs()

    def collect() -> Report:
        return collect_report(
            graph=graph,
            scheduler=scheduler,
            registry=registry,
            jobs=jobs,
            model_name=settings.pipeline.model_name,
            runs=runs,
            instances=settings.pipeline.target_instances,
            backend=settings.backend,
            location=c.location(),
            now=c.clock(),
            live=c.live_task_states(),
        )

    def signature() -> Hashable:
        return tuple((r.run_id, str(r.state)) for r in scheduler.runs(graph.name, limit=runs))

    return ReportFile(path, collect, signature)
