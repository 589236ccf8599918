"""Domain errors and the one place that maps them to HTTP responses.

Bodies follow the contract: ``{"error": "<Name>", "detail": "..."}``, and 422 responses carry
``{"detail": [{"loc", "msg", "type"}]}`` like request validation errors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from kassa.kit import sql

log = structlog.get_logger(__name__)


class KassaError(Exception):
    status_code: int = 500
    error: str = "InternalServerError"
    # The request's writes so far are kept despite the error (e.g. a declined payment attempt).
    commit: bool = False

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail}


class BadRequest(KassaError):
    status_code = 400
    error = "BadRequest"


class Unauthorized(KassaError):
    status_code = 401
    error = "Unauthorized"

    def __init__(self, detail: str = "Invalid or missing access token.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="kassa"'})


class NotPermitted(KassaError):
    status_code = 403
    error = "NotPermitted"


class ResourceNotFound(KassaError):
    status_code = 404
    error = "ResourceNotFound"

    def __init__(self, detail: str = "Not found") -> None:
        super().__init__(detail)


class Conflict(KassaError):
    status_code = 409
    error = "Conflict"


def not_found_response(resource: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI description of an operation's 404."""
    return {404: {"description": f"{resource} not found.", "model": ResourceNotFoundBody}}


class ResourceNotFoundBody(BaseModel):
    error: Literal["ResourceNotFound"] = "ResourceNotFound"
    detail: str


class ServiceUnavailable(KassaError):
    status_code = 503
    error = "ServiceUnavailable"


class ValidationFailed(KassaError):
    """A business-rule violation on a named field, answered like request validation (422)."""

    status_code = 422
    error = "RequestValidationError"

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e["msg"]) for e in errors))
        self.errors = list(errors)

    @classmethod
    def field(
        cls, loc: Sequence[str | int], msg: str, input_: Any = None, type_: str = "value_error"
    ) -> ValidationFailed:
        return cls([{"loc": list(loc), "msg": msg, "type": type_, "input": input_}])

    def body(self) -> dict[str, Any]:
        return {"detail": self.errors}


async def _kassa_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KassaError)
    if exc.commit:
        from kassa.kit.transaction import request_transaction

        request_transaction(request.scope).commit_anyway = True
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        item = {k: error[k] for k in ("loc", "msg", "type") if k in error}
        if "input" in error and _json_safe(error["input"]):
            item["input"] = error["input"]
        if "ctx" in error:
            item["ctx"] = {k: repr(v) for k, v in error["ctx"].items()}
        if not _json_safe(item.get("msg")):
            item["msg"] = repr(item["msg"])
        errors.append(item)
    return JSONResponse({"detail": errors}, status_code=422)


_HTTP_ERROR_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "NotPermitted",
    404: "ResourceNotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
}


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    name = _HTTP_ERROR_NAMES.get(exc.status_code, "HTTPError")
    return JSONResponse(
        {"error": name, "detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


def _json_safe(value: Any) -> bool:
    """Whether an invalid input can be echoed back in the 422 body as it is."""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        return False
    return True


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A constraint lost to a concurrent request (the upfront checks passed): the client may retry.
    return JSONResponse(
        {"error": "Conflict", "detail": "A concurrent change conflicted with this request."},
        status_code=409,
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The access log says 503; this line says why (pool exhausted, connection lost, ...).
    log.warning("database_unavailable", error_type=type(exc).__name__, error=str(exc))
    return JSONResponse(
        {"error": "ServiceUnavailable", "detail": "The database is unavailable."},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette answers unhandled errors outside every middleware; keep the request id visible
    # so a report of this 500 can be matched to its log line.
    request_id = getattr(request.state, "request_id", None) or request.scope.get("state", {}).get(
        "request_id"
    )
    return JSONResponse(
        {"error": "InternalServerError", "detail": "An unexpected error occurred."},
        status_code=500,
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_exception_handler(KassaError, _kassa_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(ConnectionError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)  # every connection busy
    # The same failures raised by plain SQL on the session's connection (``kit.sql``).
    for conflict in sql.CONFLICTS:
        app.add_exception_handler(conflict, _integrity_error)
    for unavailable in sql.UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
