"""MLflow's error codes, their HTTP statuses and the JSON error envelope; used by every handler."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

HTTP_STATUS: dict[str, int] = {
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "BAD_REQUEST": 400,
    "MALFORMED_REQUEST": 400,
    "INVALID_STATE": 500,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "CUSTOMER_UNAUTHORIZED": 401,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_CONFLICT": 409,
    "RESOURCE_EXHAUSTED": 429,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "INTERNAL_ERROR": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

# MLflow 3.x adds these two fields to its envelope; clients ignore them, but match them anyway.
_ERROR_CLASS: dict[str, tuple[str, str]] = {
    "RESOURCE_DOES_NOT_EXIST": ("KAM00", "RESOURCE_NOT_FOUND"),
}


class MlflowError(Exception):
    """An error answered in MLflow's format: {"error_code": ..., "message": ...}."""

    def __init__(self, error_code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = status or HTTP_STATUS.get(error_code, 500)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error_code": self.error_code, "message": self.message}
        if self.error_code in _ERROR_CLASS:
            body["sqlstate"], body["error_class"] = _ERROR_CLASS[self.error_code]
        return body


def error_response(error: MlflowError) -> Response:
    return Response(
        orjson.dumps(error.body()), status_code=error.status, media_type="application/json"
    )


async def handle_mlflow_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MlflowError)
    return error_response(exc)


async def handle_registry_error(_request: Request, exc: Exception) -> Response:
    """The registry's read queries refuse with MLflow's code and text (services/registry)."""
    code = getattr(exc, "error_code", "INTERNAL_ERROR")
    return error_response(MlflowError(code, getattr(exc, "message", str(exc))))


async def handle_not_found(request: Request, _exc: Exception) -> Response:
    return error_response(
        MlflowError(
            "ENDPOINT_NOT_FOUND",
            f"No endpoint for {request.method} {request.url.path}",
        )
    )


async def handle_method_not_allowed(request: Request, _exc: Exception) -> Response:
    return error_response(
        MlflowError(
            "ENDPOINT_NOT_FOUND",
            f"{request.method} is not supported on {request.url.path}",
            status=405,
        )
    )


async def handle_unexpected(_request: Request, _exc: Exception) -> Response:
    # The traceback goes to the server log, never to the client.
    return error_response(MlflowError("INTERNAL_ERROR", "Internal error; see the server log."))
