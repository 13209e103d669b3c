"""Vendor exceptions become domain errors that name the object and the fix, and never carry a secret."""

from __future__ import annotations

import json

import pytest
from snowflake.connector.errors import DatabaseError, ProgrammingError
from snowflake.core import exceptions as core
from snowflake.ml._internal.exceptions import dataset_errors
from snowflake.snowpark.exceptions import SnowparkSQLException

from adapters.snowflake.errors import redact, register_secret, translate, vendor_errors
from domain import errors as domain


class _Response:
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.reason = "reason"
        self.data = json.dumps({"message": message, "request_id": "r1", "code": "x"}).encode()

    def getheaders(self) -> dict[str, str]:
        return {}


def _core(cls: type[core.APIError], status: int, message: str) -> core.APIError:
    return cls(root=None, http_resp=_Response(status, message))  # type: ignore[arg-type]


def _sql(code: int, message: str) -> SnowparkSQLException:
    return SnowparkSQLException(message, sql_error_code=code)


def test_missing_object_is_not_found_naming_the_object_and_the_fix() -> None:
    err = translate(_sql(2003, "Object 'SNOWBANK.DEV.DAG_STAGE' does not exist or not authorized."), "deploy")
    assert isinstance(err, domain.NotFound)
    assert "SNOWBANK.DEV.DAG_STAGE" in str(err)
    assert "GRANT USAGE" in str(err) and "setup --backend snowflake" in str(err)


def test_missing_privilege_is_backend_unavailable_with_the_given_grant() -> None:
    err = translate(
        _sql(3001, "Insufficient privileges to operate on account"),
        "running graph PIPELINE",
        fix="GRANT EXECUTE TASK ON ACCOUNT TO ROLE ENGINEER",
    )
    assert isinstance(err, domain.BackendUnavailable)
    assert "GRANT EXECUTE TASK ON ACCOUNT TO ROLE ENGINEER" in str(err)
    assert "running graph PIPELINE" in str(err)


def test_no_warehouse_names_the_grant() -> None:
    err = translate(_sql(606, "No active warehouse selected in the current session."))
    assert isinstance(err, domain.BackendUnavailable)
    assert "GRANT USAGE ON WAREHOUSE" in str(err)


def test_connector_programming_error_is_translated_by_its_errno() -> None:
    err = translate(ProgrammingError(msg="Object 'X' already exists.", errno=2002, sqlstate="42710"))
    assert isinstance(err, domain.AlreadyExists)


def test_connector_auth_failure_is_backend_unavailable() -> None:
    err = translate(DatabaseError(msg="Incorrect username or password was specified.", errno=390100))
    assert isinstance(err, domain.BackendUnavailable)
    assert "authentication failed" in str(err)


@pytest.mark.parametrize(
    ("cls", "status", "expected"),
    [
        (core.NotFoundError, 404, domain.NotFound),
        (core.ConflictError, 409, domain.AlreadyExists),
        (core.ForbiddenError, 403, domain.BackendUnavailable),
        (core.UnauthorizedError, 401, domain.BackendUnavailable),
        (core.ServerError, 500, domain.BackendUnavailable),
    ],
)
def test_snowflake_core_api_errors(cls: type[core.APIError], status: int, expected: type[Exception]) -> None:
    err = translate(_core(cls, status, "Task PIPELINE$TRAIN does not exist"), "task PIPELINE$TRAIN")
    assert type(err) is expected
    assert "task PIPELINE$TRAIN" in str(err)


def test_snowflake_core_invalid_operation_is_invalid_config() -> None:
    err = translate(core.InvalidOperationError("Finalizer task cannot be predecessor"), "graph G")
    assert isinstance(err, domain.InvalidConfig)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (dataset_errors.DatasetExistError("Dataset D version 'v1' already exists."), domain.AlreadyExists),
        (dataset_errors.DatasetNotExistError("Dataset D does not exist."), domain.NotFound),
        (dataset_errors.DatasetCannotDeleteError("Dataset D has versions"), domain.Conflict),
    ],
)
def test_dataset_errors(exc: Exception, expected: type[Exception]) -> None:
    assert type(translate(exc, "dataset D")) is expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("(2101) Entity LOAN_ENTITY has not been registered."), domain.NotFound),
        (RuntimeError("(2115) Dataset DB.S.X version 'v1' already exists."), domain.AlreadyExists),
        (ValueError("(2110) join_key K from Entity E is not found in spine_df."), domain.InvalidConfig),
        (RuntimeError("(2200) Dataset is not enabled in your account."), domain.Unsupported),
        (ValueError("Model M version V already existed. To auto-generate ..."), domain.AlreadyExists),
        (ValueError("Unable to find model M"), domain.NotFound),
        (RuntimeError("Job execution failed with error: ValueError('boom')"), domain.JobFailed),
        (TimeoutError("Job X did not complete within 5 seconds"), domain.JobTimeout),
        (KeyError("Cannot find metric with name evidence."), domain.NotFound),
    ],
)
def test_snowflake_ml_messages_by_code_and_text(exc: Exception, expected: type[Exception]) -> None:
    assert type(translate(exc)) is expected


def test_domain_errors_pass_through_unchanged() -> None:
    original = domain.Conflict("x")
    assert translate(original) is original


def test_vendor_errors_is_a_decorator_and_keeps_the_cause() -> None:
    @vendor_errors("model M", fix="create it")
    def fails() -> None:
        raise _sql(2003, "Object 'M' does not exist or not authorized.")

    with pytest.raises(domain.NotFound, match="model M") as info:
        fails()
    assert isinstance(info.value.__cause__, SnowparkSQLException)


def test_registered_secrets_never_appear_in_the_error_nor_its_cause() -> None:
    register_secret("hunter2-very-secret")
    with pytest.raises(domain.BackendUnavailable) as info, vendor_errors("connecting"):
        raise DatabaseError(msg="login with password hunter2-very-secret refused", errno=390100)
    assert "hunter2-very-secret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_password_and_token_pairs_are_redacted_even_when_unregistered() -> None:
    text = redact("account=a password='p@ss' token=abc.def user=u")
    assert "p@ss" not in text and "abc.def" not in text
    assert "account=a" in text and "user=u" in text


GRANTS = "GRANT CREATE TASK ON SCHEMA SNOWBANK.DEV TO ROLE ENGINEER"


@pytest.mark.parametrize(
    "exc",
    [
        _sql(3001, "Insufficient privileges to operate on schema 'DEV'"),
        _sql(2003, "Object 'SNOWBANK.DEV.DAG_STAGE' does not exist or not authorized."),
        _core(core.ForbiddenError, 403, "Insufficient privileges"),
        _core(core.UnauthorizedError, 401, "Session is not authorized"),
        _core(core.NotFoundError, 404, "Task 'T' does not exist or not authorized."),
    ],
)
def test_a_privilege_fix_is_named_for_errors_that_mean_a_missing_privilege(exc: Exception) -> None:
    assert GRANTS in str(translate(exc, "deploying G", privilege_fix=GRANTS))


@pytest.mark.parametrize(
    "exc",
    [
        TypeError("invalid type str | None"),
        ValueError("The first argument of stored proc function should be Session"),
        _core(core.APIError, 400, "Invalid task definition."),
        _core(core.ConflictError, 409, "Task T already exists"),
        _sql(1003, "SQL compilation error: syntax error"),
    ],
)
def test_a_privilege_fix_is_not_named_for_errors_a_grant_would_not_help(exc: Exception) -> None:
    assert GRANTS not in str(translate(exc, "deploying G", privilege_fix=GRANTS))


def test_a_library_type_error_is_invalid_config_with_the_librarys_message() -> None:
    err = translate(TypeError("invalid type str | None"), "task G$T")
    assert isinstance(err, domain.InvalidConfig)
    assert "task G$T: TypeError: invalid type str | None" in str(err)


def test_a_bad_request_from_the_rest_api_is_invalid_config() -> None:
    err = translate(_core(core.APIError, 400, "Invalid task definition."), "task G$T")
    assert isinstance(err, domain.InvalidConfig)
    assert "Invalid task definition." in str(err)
