"""Running a compiled search: MLflow's error for a bad query, one page of rows and its token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.errors import MlflowError
from services.gateway.responses import json_response, raw_json_response
from services.gateway.writes import node_of
from services.search.errors import SearchError
from services.search.logged_models import CompiledModelSearch
from services.search.paging import CompiledSearch


async def search_page(
    request: Request, compile_search: Callable[[], CompiledSearch | CompiledModelSearch]
) -> tuple[list[Any], str | None]:
    try:
        compiled = compile_search()
    except SearchError as err:
        raise MlflowError("INVALID_PARAMETER_VALUE", err.message) from err
    rows = await node_of(request).database.pool.fetch(compiled.sql, *compiled.args)
    return compiled.page(rows)


def paged_response(field: str, items: list[Any], token: str | None) -> Response:
    """MLflow's shape for a page: the list (omitted when empty) and the next page's token."""
    body: dict[str, object] = {}
    if items:
        body[field] = items
    if token:
        body["next_page_token"] = token
    return json_response(body)


def paged_json_response(field: str, items: str, token: str | None) -> Response:
    """``paged_response`` for a list already rendered as JSON text."""
    parts = [f'"{field}":{items}'] if items != "[]" else []
    if token:
        parts.append(f'"next_page_token":{orjson.dumps(token).decode()}')
    return raw_json_response("{" + ",".join(parts) + "}")
