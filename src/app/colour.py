"""Run and task states in colour when the output is a terminal, plain text otherwise.

rich decides what a terminal is (rich/console.py, ``Console.is_terminal``): ``out.isatty()``, overridden by the
``FORCE_COLOR`` (https://force-color.org) and ``TTY_COMPATIBLE`` environment variables; ``NO_COLOR``
(https://no-color.org) sets ``Console.no_color``. Under ``NO_COLOR`` we write plain text rather than let rich keep
its non-colour attributes (dim), so the text is byte for byte what a pipe gets.
"""

from __future__ import annotations

import re
from typing import TextIO

from domain.graph import TaskState

STATE_STYLES: dict[str, str] = {
    TaskState.SUCCEEDED: "green",
    TaskState.FAILED: "red",
    TaskState.FAILED_AND_AUTO_SUSPENDED: "red",
    TaskState.SKIPPED: "dim",
    TaskState.NOT_EXECUTED: "dim",
    TaskState.CANCELLED: "yellow",
    TaskState.EXECUTING: "cyan",
}

# Whole words only: `_` is a word character, so FAILED does not match inside FAILED_AND_AUTO_SUSPENDED.
_STATE_WORD = re.compile(r"\b(" + "|".join(sorted(STATE_STYLES, key=len, reverse=True)) + r")\b")


def write_states(out: TextIO, text: str) -> None:
    """Write ``text`` and a newline to ``out``, its state words coloured when ``out`` is a terminal."""
    from rich.console import Console  # ~30 ms: loaded by the commands that print a table only
    from rich.text import Text

    console = Console(file=out, soft_wrap=True, markup=False, emoji=False, highlight=False)
    if not console.is_terminal or console.no_color:
        out.write(text + "\n")
        return
    styled = Text(text)
    for match in _STATE_WORD.finditer(text):
        styled.stylize(STATE_STYLES[match.group(1)], match.start(), match.end())
    console.print(styled)
