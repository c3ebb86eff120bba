"""The ASGI application: routes, error handlers, and the node's lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from services.gateway import health
from services.gateway.actor import AuthenticationMiddleware, Authenticator, AuthSettings
from services.gateway.artifacts import artifact_routes
from services.gateway.errors import (
    MlflowError,
    error_response,
    handle_method_not_allowed,
    handle_mlflow_error,
    handle_not_found,
    handle_registry_error,
    handle_unexpected,
)
from services.gateway.ledgerflow import events as ledgerflow_events
from services.gateway.ledgerflow import registry as ledgerflow_registry
from services.gateway.mlflow.routes import mlflow_routes
from services.gateway.ui import ui_routes
from services.node import Node
from services.registry.errors import RegistryError


def create_app(node: Node, auth: AuthSettings | None = None) -> Starlette:
    """``auth``: verify the credentials requests carry (off when None or unconfigured); raises
    ``AuthConfigError`` for a users or tokens file that cannot be used."""
    authenticator = Authenticator.from_settings(auth) if auth is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.close()

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return await handle_not_found(request, exc)
        if status == 405:
            return await handle_method_not_allowed(request, exc)
        detail = exc.detail if isinstance(exc, HTTPException) else "Internal error"
        return error_response(
            MlflowError("BAD_REQUEST" if status < 500 else "INTERNAL_ERROR", str(detail), status)
        )

    app = Starlette(
        routes=[
            *health.routes,
            *mlflow_routes(),
            *artifact_routes(),
            *ledgerflow_events.routes,
            *ledgerflow_registry.routes,
            # Last, so that every API path above wins over the UI's (none is a catch-all).
            *ui_routes(),
        ],
        middleware=[Middleware(AuthenticationMiddleware, authenticator=authenticator)],
        lifespan=lifespan,
        exception_handlers={
            MlflowError: handle_mlflow_error,
            RegistryError: handle_registry_error,
            HTTPException: http_error,
            Exception: handle_unexpected,
        },
    )
    app.state.node = node
    app.state.authenticator = authenticator
    return app
