"""Liveness, version and MLflow's server-info capability probe."""

from __future__ import annotations

from importlib.metadata import version

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from services.gateway import artifacts

VERSION = version("ledgerflow")


async def health(_request: Request) -> Response:
    return PlainTextResponse("OK")


async def server_version(_request: Request) -> Response:
    return PlainTextResponse(VERSION)


async def server_info(request: Request) -> Response:
    """What this server supports, in the shape mlflow's client reads (utils/server_info.py)."""
    return JSONResponse(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": artifacts.MULTIPART_UPLOADS,
            "multipart_downloads_enabled": artifacts.MULTIPART_DOWNLOADS,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
            "ledgerflow": {
                "version": VERSION,
                "log_backend": request.app.state.node.core.log_backend,
                "artifact_store": request.app.state.node.artifact_settings.backend,
            },
        }
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/version", server_version, methods=["GET"]),
    Route("/api/3.0/mlflow/server-info", server_info, methods=["GET"]),
]
