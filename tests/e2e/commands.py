"""The CLI as the end-to-end tests drive it: in-process calls with captured output, the JSON views they read
back, and a failure injected into one port of the container the CLI builds."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import app.cli
from app.cli import main
from domain.errors import BackendUnavailable


def cli(home: Path, *argv: str) -> tuple[int, str, str]:
    """``python -m app --home HOME ARGV…`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--home", str(home), *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def runs(home: Path) -> list[dict[str, Any]]:
    code, out, err = cli(home, "runs", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def models(home: Path) -> dict[str, Any]:
    code, out, err = cli(home, "models", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def states(run: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["state"] for t in run["tasks"]}


class _Failing:
    """Delegates to a real adapter, except that ``method`` raises (the first ``times`` calls, or always)."""

    def __init__(self, inner: object, method: str, times: int | None = None) -> None:
        self._inner, self._method, self._left = inner, method, times

    def __getattr__(self, name: str) -> Any:
        if name == self._method and (self._left is None or self._left > 0):

            def fail(*_: object, **__: object) -> Any:
                if self._left is not None:
                    self._left -= 1
                raise BackendUnavailable(f"injected failure in {name}")

            return fail
        return getattr(self._inner, name)


def inject(monkeypatch: pytest.MonkeyPatch, port: str, method: str, times: int | None = None) -> None:
    """The CLI's container gets ``port``'s real simulator adapter wrapped so that ``method`` fails."""
    from dependency_injector import providers

    real: Callable[..., Any] = app.cli.build_container

    def build(settings: Any) -> Any:
        c = real(settings)
        provider = getattr(c, f"sim_{port}")
        adapter = provider()  # the real one, built before the override replaces it
        provider.override(providers.Object(_Failing(adapter, method, times)))
        return c

    monkeypatch.setattr(app.cli, "build_container", build)
