"""Domain errors: the only exceptions that cross a port.

Every adapter translates its vendor's exceptions into these, in one place, so callers handle one family of
errors whatever the backend. Messages name the offending value and, where it helps, what would be valid.
"""

from __future__ import annotations

from pathlib import Path


class DomainError(Exception):
    """Base of every error the domain and its ports raise."""


class InvalidConfig(DomainError, ValueError):
    """A configuration key, value, schedule or name is not acceptable."""


class InvalidName(InvalidConfig):
    """An object name is not a valid identifier (or tries to smuggle SQL)."""


class InvalidData(DomainError, ValueError):
    """Input data is unusable: missing or ill-typed columns, empty, duplicated keys, NaN labels…"""


class NotFound(DomainError, LookupError):
    """The named object (dataset version, model version, job, graph, integration…) does not exist."""


class AlreadyExists(DomainError):
    """Creating an object that exists already (datasets and model versions are immutable)."""


class Conflict(DomainError):
    """The request contradicts the object's state, e.g. deleting the default model version."""


class JobFailed(DomainError):
    """A job ended FAILED or CANCELLED; the message carries the remote error."""


class JobTimeout(DomainError, TimeoutError):
    """Waiting for a job or graph run exceeded its timeout."""


class BackendUnavailable(DomainError):
    """The backend cannot be reached or used: no connection, missing privilege, locked home…"""


class StoreDamaged(BackendUnavailable):
    """A file of the backend's own store is damaged (a checksum mismatch, an unreadable log): nothing read from it
    can be trusted, so no caller may treat it as a passing failure (a notice that could not be sent, say). The
    message names the file and how to recover."""


class HomeInUse(BackendUnavailable):
    """Another process holds the simulator home at ``home`` (the CLI forwards commands to it: ``app.control``)."""

    def __init__(self, message: str, home: Path) -> None:
        super().__init__(message)
        self.home = home


class Unsupported(DomainError):
    """The backend does not offer this feature; raised instead of returning something empty."""


class NotificationFailed(DomainError):
    """A notification could not be delivered through its integration."""
