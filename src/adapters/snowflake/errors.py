"""The one place where Snowflake's vendor exceptions become domain errors.

Every adapter in this package wraps its vendor calls in ``vendor_errors(what, fix=..., privilege_fix=...)``
(a context manager that is also a decorator). ``what`` names the object or operation, ``fix`` the command that
would help with any error of the block, ``privilege_fix`` the grants that would help only when the error
means the role lacks a privilege (HTTP 401/403, SQL 3001, SQL 2003 "does not exist or not authorized"); both
end up in the domain error's message. A ``TypeError`` or ``ValueError`` from a library is a definition it
cannot accept (``InvalidConfig`` with the library's message), never a missing grant. Text from the vendor passes through ``redact`` first, so
passwords, tokens and private keys registered by ``session.py`` never appear in an error.
"""

from __future__ import annotations

import logging
import re
from contextlib import ContextDecorator
from types import TracebackType

from adapters.snowflake.sql_text import string_literal
from domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    DomainError,
    InvalidConfig,
    JobFailed,
    JobTimeout,
    NotFound,
    Unsupported,
)

_SECRETS: set[str] = set()
# key=value or key: value pairs whose value is a secret, in connection strings and echoed parameters
_SECRET_PAIRS = re.compile(
    r"(?i)\b(password|passcode|token|private_key(?:_file_pwd|_passphrase)?|client_secret|oauth_token|secret_string)"
    r"(\s*[=:]\s*)(['\"]?)[^'\"\s,;&}]+\3"
)
_GRANT_HINT = "GRANT the privilege named above to the role"
_ML_CODE = re.compile(r"^\((\d{4})\)\s*")
_QUOTED_OBJECT = re.compile(r"'([^']+)'")

# Snowflake SQL error numbers that have a clear meaning for the caller.
SQL_OBJECT_MISSING = 2003  # "Object 'X' does not exist or not authorized."
SQL_ALREADY_EXISTS = 2002
SQL_INSUFFICIENT_PRIVILEGES = 3001
SQL_NO_WAREHOUSE = 606
SQL_SYNTAX = 1003
SQL_INVALID_IDENTIFIER = 904
SQL_AUTH_FAILED = (390100, 390144, 390318, 390190, 251005, 251006)
SQL_CONNECT_FAILED = (250001, 250003, 251001, 251002)
HTTP_BAD_REQUEST = 400


def register_secret(value: str | None) -> None:
    """Remember a secret so that ``redact`` removes it from any text (too-short values would erase noise), and
    from what the vendor libraries log: Snowpark logs every query's text at DEBUG and a failed one's at ERROR
    (snowflake/snowpark/_internal/server_connection.py ``ServerConnection.run_query``), the connector at DEBUG
    (snowflake/connector/cursor.py ``SnowflakeCursor.execute``, masking only its own patterns)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)
        _SECRETS.add(string_literal(value)[1:-1])  # as a SQL statement holds it
        for name, logger in list(logging.Logger.manager.loggerDict.items()):
            if name.startswith("snowflake") and isinstance(logger, logging.Logger):
                logger.addFilter(_LOG_FILTER)  # once: addFilter skips a filter it has


class _RedactingFilter(logging.Filter):
    """Rewrites a record whose text holds a registered secret (a logger's filters see only its own records,
    hence one on every vendor logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _contains_secret(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_LOG_FILTER = _RedactingFilter()


def lacks_privilege(exc: BaseException) -> bool:
    """Whether a SQL error means the role may not do this (or may not see the object): 3001, 2003."""
    return _sql_error_code(exc) in (SQL_INSUFFICIENT_PRIVILEGES, SQL_OBJECT_MISSING)


def redact(text: str) -> str:
    """``text`` with registered secrets and ``password=…``-style values replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _SECRET_PAIRS.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def _contains_secret(text: str) -> bool:
    return redact(text) != text


def _message(exc: BaseException) -> str:
    """The vendor's own message, without snowflake.core's HTTP framing."""
    for attr in ("raw_message", "raw_msg", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value:
            return value.strip()
    get_info = getattr(exc, "get_request_info", None)
    if callable(get_info):
        try:
            info = get_info()
        except ValueError:  # a body that is not JSON
            info = {}
        if info.get("message"):
            return str(info["message"]).strip()
        return f"HTTP {getattr(exc, 'status', '?')} {getattr(exc, 'reason', '') or ''}".strip()
    return str(exc).strip()


def _sql_error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sql_error_code", None)
    if code is None:
        code = getattr(exc, "errno", None)
    return code if isinstance(code, int) and code > 0 else None


def _compose(what: str, detail: str, fix: str | None) -> str:
    text = f"{what}: {detail}" if what else detail
    if fix:
        text += f" — to fix: {fix}"
    return redact(text)


def translate(
    exc: BaseException, what: str = "", fix: str | None = None, privilege_fix: str | None = None
) -> DomainError:
    """The domain error for one vendor exception (a ``DomainError`` is returned unchanged).

    ``privilege_fix`` is named only for errors that mean a missing privilege; ``fix`` for any error.
    """
    if isinstance(exc, DomainError):
        return exc
    from snowflake.core import exceptions as core

    detail = _message(exc)
    if isinstance(exc, core.NotFoundError):
        return NotFound(
            _compose(
                what,
                f"does not exist or the role is not authorized to use it ({detail})",
                privilege_fix or fix or "create it first, or check the name",
            )
        )
    if isinstance(exc, core.ConflictError):
        return AlreadyExists(_compose(what, f"already exists ({detail})", fix))
    if isinstance(exc, core.UnauthorizedError | core.ForbiddenError):
        return BackendUnavailable(
            _compose(what, f"the role may not do this ({detail})", privilege_fix or fix or _GRANT_HINT)
        )
    if isinstance(exc, core.InvalidActionError):
        return InvalidConfig(_compose(what, detail, fix))
    if isinstance(exc, core.APIError) and exc.status == HTTP_BAD_REQUEST:
        return InvalidConfig(_compose(what, f"Snowflake refused the request ({detail})", fix))
    if isinstance(exc, core.APIError | core.RetryTimeoutError):
        return BackendUnavailable(_compose(what, f"Snowflake REST API error ({detail})", fix))
    dataset_error = _dataset_error(exc, what, detail, fix)
    if dataset_error is not None:
        return dataset_error
    code = _sql_error_code(exc)
    if code is not None:
        return _from_sql_error(code, what, detail, fix, privilege_fix)
    if isinstance(exc, TypeError):
        # A library refusing what it was given (e.g. Snowpark's sproc.register and a type hint it cannot map).
        return InvalidConfig(_compose(what, f"TypeError: {detail}", fix))
    if isinstance(exc, TimeoutError):
        return JobTimeout(_compose(what, detail, fix))
    if isinstance(exc, KeyError):
        return NotFound(_compose(what, str(exc.args[0]) if exc.args else detail, fix))
    if isinstance(exc, ValueError | RuntimeError):
        return _from_ml_message(exc, what, detail, fix)
    return BackendUnavailable(_compose(what, f"{type(exc).__name__}: {detail}", fix))


def _dataset_error(exc: BaseException, what: str, detail: str, fix: str | None) -> DomainError | None:
    from snowflake.ml._internal.exceptions import dataset_errors

    if isinstance(exc, dataset_errors.DatasetExistError):
        return AlreadyExists(_compose(what, detail, fix or "datasets are immutable; use a new version name"))
    if isinstance(exc, dataset_errors.DatasetNotExistError):
        return NotFound(_compose(what, detail, fix))
    if isinstance(exc, dataset_errors.DatasetCannotDeleteError):
        return Conflict(_compose(what, detail, fix))
    return None


def _from_sql_error(
    code: int, what: str, detail: str, fix: str | None, privilege_fix: str | None = None
) -> DomainError:
    if code == SQL_OBJECT_MISSING:
        named = _QUOTED_OBJECT.search(detail)
        obj = named.group(1) if named else "the object"
        return NotFound(
            _compose(
                what,
                f"{obj} does not exist or the role is not authorized to use it ({detail})",
                privilege_fix
                or fix
                or f"create {obj} (`app setup --backend snowflake`) or GRANT USAGE on it to the role",
            )
        )
    if code == SQL_INSUFFICIENT_PRIVILEGES:
        return BackendUnavailable(
            _compose(what, f"insufficient privileges ({detail})", privilege_fix or fix or _GRANT_HINT)
        )
    if code == SQL_ALREADY_EXISTS:
        return AlreadyExists(_compose(what, detail, fix))
    if code == SQL_NO_WAREHOUSE:
        return BackendUnavailable(
            _compose(
                what,
                f"no usable warehouse ({detail})",
                fix or "set `warehouse` in the connection, or GRANT USAGE ON WAREHOUSE <name> TO ROLE <role>",
            )
        )
    if code in SQL_AUTH_FAILED:
        return BackendUnavailable(
            _compose(what, f"authentication failed ({detail})", fix or "check the user and credentials")
        )
    if code in SQL_CONNECT_FAILED:
        return BackendUnavailable(
            _compose(what, f"cannot reach Snowflake ({detail})", fix or "check the account and network")
        )
    if code in (SQL_SYNTAX, SQL_INVALID_IDENTIFIER):
        return InvalidConfig(_compose(what, f"SQL error {code}: {detail}", fix))
    return BackendUnavailable(_compose(what, f"Snowflake error {code}: {detail}", fix))


def _from_ml_message(exc: BaseException, what: str, detail: str, fix: str | None) -> DomainError:
    """snowflake.ml raises ValueError/RuntimeError, prefixed with ``(code)`` when it has one."""
    text = str(exc)
    m = _ML_CODE.match(text)
    code = m.group(1) if m else None
    lowered = text.lower()
    if "cannot add package" in lowered:
        # Snowpark's package resolution (session.py _get_dependency_packages): a pin the channel does not serve
        return InvalidConfig(_compose(what, text, fix))
    if text.startswith("Job execution failed") or "failed to retrieve result for job" in lowered:
        return JobFailed(_compose(what, text, fix))
    if code == "2101" or any(p in lowered for p in ("unable to find", "does not exist", "cannot find")):
        return NotFound(_compose(what, text, fix))
    if code == "2115" or "already exist" in lowered:
        return AlreadyExists(_compose(what, text, fix))
    if code == "2200" and "not enabled" in lowered:
        return Unsupported(_compose(what, text, fix or "ask an admin to set FEATURE_DATASET=ENABLED"))
    if code in ("2110", "2111") or isinstance(exc, ValueError):
        return InvalidConfig(_compose(what, text, fix))
    return BackendUnavailable(_compose(what, f"{type(exc).__name__}: {text}", fix))


class vendor_errors(ContextDecorator):  # a phrase at the call site: `with vendor_errors("model M"):`
    """Translate vendor exceptions raised in the block (or the decorated function) into domain errors."""

    def __init__(self, what: str = "", fix: str | None = None, *, privilege_fix: str | None = None) -> None:
        self.what = what
        self.fix = fix
        self.privilege_fix = privilege_fix

    def __enter__(self) -> vendor_errors:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        if exc is None or isinstance(exc, DomainError) or not isinstance(exc, Exception):
            return False
        error = translate(exc, self.what, self.fix, self.privilege_fix)
        # Keep the vendor traceback for debugging unless its text carries a secret.
        if _contains_secret(str(exc)) or _contains_secret(repr(exc)):
            raise error from None
        raise error from exc
