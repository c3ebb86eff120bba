"""The UI's routes: `/` (the page), `/ui/...` (its static files) and its JSON summaries.

They are mounted after every API route, and none is a catch-all, so MLflow's and ledgerflow's
paths always win. Views live in the URL's hash (`/#/experiments/1`), so the server serves one page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.gateway.ui.experiments import routes as experiment_routes
from services.gateway.ui.system import routes as system_routes

STATIC_DIR = Path(__file__).parent / "static"

# The page loads only its own scripts and talks only to this server. uPlot sets inline styles
# on the elements it creates, hence 'unsafe-inline' for styles (never for scripts).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Revalidated on every load (ETag/Last-Modified), so an upgraded server is seen at once.
    "Cache-Control": "no-cache",
}


class UiFiles(StaticFiles):
    """The front end's files, with the page's security and caching headers."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(SECURITY_HEADERS)
        return response


async def index(_request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers=SECURITY_HEADERS)


def ui_routes() -> list[BaseRoute]:
    return [
        *experiment_routes,
        *system_routes,
        Route("/", index, methods=["GET", "HEAD"]),
        Mount("/ui", app=UiFiles(directory=STATIC_DIR), name="ui"),
    ]
