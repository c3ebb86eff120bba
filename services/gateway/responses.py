"""JSON responses encoded with orjson (MLflow's proto JSON shapes are built by the handlers)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

EMPTY = b"{}"


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def empty_response() -> Response:
    return Response(EMPTY, media_type="application/json")


def raw_json_response(body: bytes | str) -> Response:
    return Response(body, media_type="application/json")
