"""Render the report as one self-contained HTML page: inline CSS and SVG, no script, no external resource, so
it opens offline and can be kept as a CI artifact.

Jinja2 renders it with autoescaping on: error text, tracebacks, logs and return values are whatever a task body
produced and are shown as text, never as markup. Only the SVG, built and escaped by ``app.report.svg``, is
inserted as markup.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from app.report.model import Report, grid_cell

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("app.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a misspelt field fails the render instead of printing nothing
    trim_blocks=True,
    lstrip_blocks=True,
)


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def render_html(report: Report) -> str:
    return _ENV.get_template("report.html.j2").render(report=report, cell=grid_cell, number=_number)


def write_html(path: Path, html: str) -> None:
    """Write atomically (a temporary file in the same folder, then rename), so a browser or a CI step reading
    the report while it is refreshed sees the old page or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(
            fd, 0o644
        )  # mkstemp makes it private (0600); a report is for others to read, as a CI artifact
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
