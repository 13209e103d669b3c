"""A webhook integration configured in ``[webhook]`` with its secret from ``$APP_WEBHOOK_SECRET``: the secret
reaches the webhook as its Bearer token and appears nowhere else — not in output, logs, history or any file
but its store (the SECRETS table)."""

from __future__ import annotations

import http.server
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from app.cli import main

SECRET = "s3cr3t-token-7f1d9c"


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[dict[str, str], str]]]]:
    received: list[tuple[dict[str, str], str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(
                (dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])).decode())
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_webhook_secret_reaches_the_webhook_and_nothing_else(
    tmp_path: Path,
    webhook: tuple[str, list[tuple[dict[str, str], str]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, received = webhook
    home = tmp_path / "home"
    config = tmp_path / "app.toml"
    config.write_text(f'[webhook]\nurl = "{url}"\n')
    monkeypatch.setenv("APP_WEBHOOK_SECRET", SECRET)
    caplog.set_level(logging.DEBUG)
    shown = []
    for argv in (
        ["setup", "--rows", "4000"],
        ["deploy", "--run", "--config", "metric_threshold=0.999"],  # the alert branch: one notice
        ["runs", "--format", "json"],
        ["models", "--format", "json"],
        ["doctor"],
        ["-v", "graph"],
    ):
        out, err = io.StringIO(), io.StringIO()
        code = main(["--home", str(home), "--config-file", str(config), *argv], out=out, err=err)
        shown.append(out.getvalue() + err.getvalue())
        assert code in (0, 3), shown[-1]  # doctor may find something missing; it must not show the secret

    assert [h.get("Authorization") for h, _ in received] == [f"Bearer {SECRET}"]
    assert "not promoted" in received[0][1]
    assert "Created webhook notification integration" in shown[0]
    assert not [s for s in shown if SECRET in s]
    assert SECRET not in caplog.text
    other_files = [f for f in home.rglob("*") if f.is_file() and not f.name.startswith("account.duckdb")]
    assert other_files and not [f for f in other_files if SECRET.encode() in f.read_bytes()]
    with duckdb.connect(str(home / "account.duckdb"), read_only=True) as con:
        tables = con.execute(
            "select table_catalog, table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE'"
        ).fetchall()
        holding = [
            t
            for c, s, t in tables
            if SECRET in str(con.execute(f'select * from "{c}"."{s}"."{t}"').fetchall())
        ]
    assert len(tables) > 10 and holding == ["SECRETS"]
