"""States in colour on a terminal (SUCCEEDED green, FAILED red, SKIPPED/NOT_EXECUTED dim, CANCELLED yellow,
EXECUTING cyan); plain text in a pipe or under NO_COLOR; FORCE_COLOR colours a pipe (rich's hook)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from app.cli import build_parser, cmd_runs
from app.colour import write_states
from app.settings import load_settings
from domain.graph import GraphRun, GraphRunState, TaskRun, TaskState

GREEN, RED, DIM, YELLOW, CYAN, RESET = "\x1b[32m", "\x1b[31m", "\x1b[2m", "\x1b[33m", "\x1b[36m", "\x1b[0m"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLORTERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")


def test_a_terminal_gets_each_state_in_its_colour() -> None:
    out = Terminal()

    write_states(out, "SUCCEEDED FAILED SKIPPED NOT_EXECUTED CANCELLED EXECUTING SCHEDULED")

    text = out.getvalue()
    for colour, state in (
        (GREEN, "SUCCEEDED"),
        (RED, "FAILED"),
        (DIM, "SKIPPED"),
        (DIM, "NOT_EXECUTED"),
        (YELLOW, "CANCELLED"),
        (CYAN, "EXECUTING"),
    ):
        assert f"{colour}{state}{RESET}" in text
    assert text.endswith(" SCHEDULED\n")  # a state with no colour stays plain


def test_only_whole_state_words_are_coloured() -> None:
    out = Terminal()

    write_states(out, "FAILED_AND_AUTO_SUSPENDED UNSUCCEEDED")

    assert out.getvalue() == f"{RED}FAILED_AND_AUTO_SUSPENDED{RESET} UNSUCCEEDED\n"


def test_a_pipe_gets_the_text_unchanged() -> None:
    out = io.StringIO()

    write_states(out, "run 1  SUCCEEDED  [not markup]")

    assert out.getvalue() == "run 1  SUCCEEDED  [not markup]\n"


def test_no_color_gets_the_text_unchanged_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()

    write_states(out, "SKIPPED SUCCEEDED")

    assert out.getvalue() == "SKIPPED SUCCEEDED\n"


def test_force_color_colours_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = io.StringIO()

    write_states(out, "FAILED")

    assert out.getvalue() == f"{RED}FAILED{RESET}\n"


def test_a_long_line_is_not_wrapped_on_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "20")
    out = Terminal()
    line = "SUCCEEDED " + "x" * 60

    write_states(out, line)

    assert out.getvalue() == f"{GREEN}SUCCEEDED{RESET} " + "x" * 60 + "\n"


def _runs_output(out: io.StringIO, output_format: str) -> str:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    run = GraphRun(
        "MORTGAGE_PIPELINE",
        "7",
        GraphRunState.FAILED,
        when,
        tasks=(
            TaskRun("MORTGAGE_PIPELINE$TRAIN_MODEL", TaskState.FAILED, error_message="boom"),
            TaskRun("MORTGAGE_PIPELINE$PROMOTE_MODEL", TaskState.SKIPPED),
        ),
    )
    scheduler = SimpleNamespace(runs=lambda _graph, limit: [run])
    settings = load_settings(env={}, backend="simulator")
    args = build_parser().parse_args(
        ["runs", "--limit", "1", "--format", output_format]
    )  # as the CLI parses it
    assert cmd_runs(args, settings, SimpleNamespace(scheduler=lambda: scheduler), out) == 0  # type: ignore[arg-type]
    return out.getvalue()


def test_the_runs_table_colours_the_states_on_a_terminal() -> None:
    text = _runs_output(Terminal(), "table")

    assert f"{RED}FAILED{RESET}" in text and f"{DIM}SKIPPED{RESET}" in text


def test_runs_json_on_a_terminal_has_no_colour_codes() -> None:
    text = _runs_output(Terminal(), "json")

    assert "\x1b" not in text and '"state": "FAILED"' in text
