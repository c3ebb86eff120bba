"""Metric histories: paged history of one key, and sampled histories of many runs for charts."""

from __future__ import annotations

import base64
import binascii

import orjson
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.errors import MlflowError
from services.gateway.mlflow import messages
from services.gateway.mlflow.runs import run_not_found
from services.gateway.mlflow.searching import paged_json_response
from services.gateway.requests import read_request
from services.gateway.responses import json_response
from services.gateway.writes import node_of
from services.store import tracking

MAX_RESULTS_PER_RUN = 2500
MAX_RUNS_PER_REQUEST = 100
MAX_HISTORY_RESULTS = 25000


def _offset_token(offset: int) -> str:
    return base64.b64encode(orjson.dumps({"offset": offset})).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        decoded = orjson.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", "Invalid page token, could not base64-decode"
        ) from None
    offset = decoded.get("offset") if isinstance(decoded, dict) else None
    if not isinstance(offset, int) or offset < 0:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"Invalid page token, offset {offset!r} is not valid"
        )
    return offset


async def get_history(request: Request) -> Response:
    body = await read_request(request, messages.GET_METRIC_HISTORY)
    run_id, key = body["run_id"], body["metric_key"]
    max_results = body.get("max_results")
    if max_results is not None and max_results <= 0:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be a positive integer.",
        )
    pool = node_of(request).database.pool
    run_key = await tracking.run_key_of(pool, run_id)
    if run_key is None:
        raise run_not_found(run_id)
    offset = _offset(body.get("page_token"))
    points, _, more = await tracking.metric_history_json(pool, run_key, key, offset, max_results)
    token = _offset_token(offset + max_results) if more and max_results is not None else None
    return paged_json_response("metrics", points, token)


async def get_history_bulk_interval(request: Request) -> Response:
    body = await read_request(request, messages.GET_METRIC_HISTORY_BULK_INTERVAL)
    run_ids: list[str] = body["run_ids"]
    start_step, end_step = body.get("start_step"), body.get("end_step")
    if start_step is not None and end_step is not None:
        if start_step > end_step:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}.",
            )
    elif start_step is not None or end_step is not None:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            "If either start step or end step are specified, both must be specified.",
        )
    pool = node_of(request).database.pool
    keys = []
    for run_id in run_ids:
        run_key = await tracking.run_key_of(pool, run_id)
        if run_key is None:
            raise run_not_found(run_id)
        keys.append(run_key)
    points = await tracking.sampled_history(
        pool,
        keys,
        body["metric_key"],
        body.get("max_results", MAX_RESULTS_PER_RUN),
        start_step,
        end_step,
    )
    return json_response({"metrics": points} if points else {})


async def get_history_bulk(request: Request) -> Response:
    """The UI's non-proto bulk history (MLflow's get_metric_history_bulk_handler)."""
    run_ids = request.query_params.getlist("run_id")
    if not run_ids:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            "GetMetricHistoryBulk request must specify at least one run_id.",
        )
    if len(run_ids) > MAX_RUNS_PER_REQUEST:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"GetMetricHistoryBulk request cannot specify more than {MAX_RUNS_PER_REQUEST}"
            f" run_ids. Received {len(run_ids)} run_ids.",
        )
    key = request.query_params.get("metric_key")
    if key is None:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", "GetMetricHistoryBulk request must specify a metric_key."
        )
    try:
        max_results = min(
            int(request.query_params.get("max_results", MAX_HISTORY_RESULTS)),
            MAX_HISTORY_RESULTS,
        )
    except ValueError:
        raise MlflowError("INVALID_PARAMETER_VALUE", "max_results must be an integer.") from None
    pool = node_of(request).database.pool
    metrics: list[object] = []
    for run_id in sorted(run_ids):
        run_key = await tracking.run_key_of(pool, run_id)
        if run_key is None:
            continue
        text, _, _ = await tracking.metric_history_json(pool, run_key, key, 0, max_results)
        metrics.extend(dict(point, run_id=run_id) for point in orjson.loads(text))
    return json_response({"metrics": metrics[:max_results]})


ROUTES = [
    ("GET", "metrics/get-history", get_history),
    ("GET", "metrics/get-history-bulk-interval", get_history_bulk_interval),
    ("GET", "metrics/get-history-bulk", get_history_bulk),
]
