"""One offline Snowflake: the REST server, the recording connection and a real Snowpark session over it.

``with offline_snowflake() as sf:`` gives ``sf.session`` (a real ``snowflake.snowpark.Session``; pass it to
``SnowflakeScheduler``, ``plan.deployed_graph`` or ``doctor``; ``snowflake.core.Root(sf.session)`` talks to
``sf.server``), ``sf.connection`` (statements, rules), ``sf.server`` (REST requests, the task store) and
``sf.uploads`` (stage path → bytes of every file Snowpark PUT: one zip per directory import,
``domain.zip``/``adapters.zip``/``app.zip`` under the DAG stage, uploaded by the first registration that
finds it missing from the stage listing; later procedures and redeploys import it from there).
``sf.procedure_imports(sql)`` reads the stage paths a task definition's ``WITH … AS PROCEDURE … IMPORTS=(…)``
names; ``tests.sproc_emulation.deployed_procedure(sql, sf.uploads)`` turns them into what a stored-procedure
emulation puts on ``sys.path``. A test module's fixture is ``with offline_snowflake() as sf: yield sf``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.snowflake_offline.connection import RecordingConnection, recording_session
from tests.snowflake_offline.rest_server import TaskRestServer

_IMPORTS = re.compile(r"IMPORTS\s*=\s*\(([^)]*)\)", re.IGNORECASE)
_HANDLER = re.compile(r"HANDLER\s*=\s*'([^']+)'", re.IGNORECASE)


@dataclass
class OfflineSnowflake:
    server: TaskRestServer
    connection: RecordingConnection
    session: Any

    @property
    def uploads(self) -> dict[str, bytes]:
        return self.connection.uploads

    def task_definitions(self) -> dict[str, str]:
        """``{stored task name: definition}`` of the tasks the server holds."""
        return {name: task["definition"] for (_, _, name), task in self.server.tasks.items()}

    def procedure_imports(self, definition: str) -> list[str]:
        """The stage paths a task definition's anonymous procedure imports (``IMPORTS=('@…', …)``)."""
        m = _IMPORTS.search(definition)
        return re.findall(r"'([^']+)'", m.group(1)) if m else []

    def procedure_handler(self, definition: str) -> str | None:
        m = _HANDLER.search(definition)
        return m.group(1) if m else None


@contextmanager
def offline_snowflake(**connection_options: Any) -> Iterator[OfflineSnowflake]:
    """Start the server, connect a recording connection to it, open a Snowpark session; undo all on exit."""
    with TaskRestServer() as server:
        connection = RecordingConnection(rest_url=server.url, **connection_options)
        session = recording_session(connection)
        try:
            yield OfflineSnowflake(server, connection, session)
        finally:
            session.close()
