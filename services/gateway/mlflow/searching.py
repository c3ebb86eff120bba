"""Running a compiled search: MLflow's error for a bad query, one page of rows and its token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from services.gateway.errors import MlflowError
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
