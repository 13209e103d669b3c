"""``report``, ``deploy --run --report`` and ``scheduler --report`` on a temporary simulator home, and the page in a
real headless Chromium (Debian's ``chromium``; skipped, with the line that installs it, when it is absent)."""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from tests.e2e.commands import cli, runs
from tests.support.chromium import INSTALL_LINE, Chromium, find_chromium


@pytest.fixture(scope="module")
def ran(prepared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """A home with one real run of the pipeline, deployed with ``--report``: (home, that page, the run)."""
    folder = tmp_path_factory.mktemp("report")
    home, page = folder / "home", folder / "ci" / "report.html"
    shutil.copytree(prepared_home, home)
    code, out, err = cli(home, "deploy", "--run", "--report", str(page))
    assert code == 0, out + err
    assert f"Wrote run report {page} (1 run(s), 1 model version(s))." in out
    (run,) = runs(home)
    return home, page, run


def test_deploy_run_with_report_writes_the_page_of_the_run_it_followed(
    ran: tuple[Path, Path, dict[str, Any]],
) -> None:
    _, page, run = ran
    html = page.read_text()
    assert f'id="run-{run["run_id"]}"' in html
    assert 'data-task="promote_model">SUCCEEDED<' in html and 'data-task="send_alert">SKIPPED<' in html


def test_report_writes_the_last_n_runs_where_it_is_told(
    ran: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    home, _, run = ran
    out_path = tmp_path / "r.html"
    code, out, err = cli(home, "report", "--out", str(out_path), "--runs", "1")
    assert code == 0, err
    assert out == f"Wrote run report {out_path} (1 run(s), 1 model version(s)).\n"
    assert f"run-{run['run_id']}" in out_path.read_text()


def test_a_report_path_that_cannot_be_written_exits_2_naming_it(
    ran: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = cli(ran[0], "report", "--out", str(tmp_path / "file" / "r.html"))
    assert code == 2 and f"cannot write the run report to {tmp_path / 'file' / 'r.html'}" in err


def test_report_runs_must_be_a_whole_number_of_at_least_1(ran: tuple[Path, Path, dict[str, Any]]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(ran[0]), "report", "--runs", "0"], out=io.StringIO(), err=io.StringIO())
    assert exit_.value.code == 2


def test_the_scheduler_writes_the_report_after_its_checks(
    ran: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    home, _, run = ran
    page = tmp_path / "live.html"
    assert cli(home, "deploy", "--schedule", "12h")[0] == 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "--home",
            str(home),
            "scheduler",
            "--poll",
            "0.2",
            "--report",
            str(page),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not page.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"run-{run['run_id']}" in page.read_text()


@pytest.fixture
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip(f"chromium is not installed; install it with: {INSTALL_LINE}")
    return binary


def test_the_page_opens_in_headless_chromium_without_console_errors_and_shows_the_runs_states(
    ran: tuple[Path, Path, dict[str, Any]], chromium: str, tmp_path: Path
) -> None:
    _, page, run = ran
    with Chromium(chromium, tmp_path / "profile") as browser:
        browser.open_page()
        browser.load(page.as_uri())
        shown = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('table.grid td[data-task]')]"
            ".map(td => [td.dataset.task, td.textContent.trim()]))"
        )
        graph_states = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('svg.graph g.node[data-task]')]"
            ".filter(g => !g.classList.contains('root'))"
            ".map(g => [g.dataset.task, g.querySelector('text.state').textContent]))"
        )
        chosen = browser.evaluate(
            "[...document.querySelectorAll('svg.graph g.edge.chosen')].map(g => g.dataset.to)"
        )
        browser.screenshot(tmp_path / "report.png")
        errors, urls = browser.console_errors(), browser.requested_urls()
    assert errors == []
    assert urls == [page.as_uri()]  # self-contained: nothing else is fetched
    assert shown == {t["name"]: t["state"] for t in run["tasks"]}
    assert graph_states["cleanup"] == "finalizer · SUCCEEDED"
    assert chosen == ["promote_model"]
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_browser_check_does_see_a_console_error_and_a_fetch(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><img src="missing.png"><script>console.error("broken page")</script>')
    with Chromium(chromium, tmp_path / "profile") as browser:
        browser.open_page()
        browser.load(page.as_uri())
        errors, urls = browser.console_errors(), browser.requested_urls()
    assert "broken page" in errors
    assert (tmp_path / "missing.png").as_uri() in urls
