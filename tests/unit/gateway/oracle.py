"""MLflow 3.17.2 itself, run in-process, as the oracle for the gateway's request reading.

`mlflow_reads` calls a real MLflow handler inside a Flask request context. The handler's own
`_get_request_message` (its real schema dict, content-type check and proto parsing) runs; we
stop it right after parsing, before any store is touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import flask
import orjson
from google.protobuf import json_format
from mlflow.exceptions import MlflowException
from mlflow.protos import model_registry_pb2, service_pb2
from mlflow.server import handlers
from starlette.requests import Request

from services.gateway import requests as ours
from services.gateway.errors import MlflowError
from services.gateway.mlflow import messages

_app = flask.Flask(__name__)


@dataclass(frozen=True)
class Outcome:
    """ok: the parsed proto (deterministic bytes); error: code and message; crash: a 500."""

    kind: str
    detail: Any = None
    message: str | None = None


class _Parsed(Exception):
    def __init__(self, message: Any) -> None:
        super().__init__()
        self.message = message


def _stop_after_parse(request_message: Any, flask_request: Any = None, schema: Any = None) -> Any:
    parsed = _ORIGINAL(request_message, schema=schema)
    raise _Parsed(parsed)


_ORIGINAL = handlers._get_request_message

ENDPOINTS: dict[str, tuple[Any, Any, ours.RequestSchema]] = {
    # name: (MLflow handler, proto class, our schema)
    "log-metric": (handlers._log_metric, service_pb2.LogMetric, messages.LOG_METRIC),
    "log-parameter": (handlers._log_param, service_pb2.LogParam, messages.LOG_PARAM),
    "set-tag": (handlers._set_tag, service_pb2.SetTag, messages.SET_TAG),
    "log-batch": (handlers._log_batch, service_pb2.LogBatch, messages.LOG_BATCH),
    "log-inputs": (handlers._log_inputs, service_pb2.LogInputs, messages.LOG_INPUTS),
    "create-run": (handlers._create_run, service_pb2.CreateRun, messages.CREATE_RUN),
    "get-run": (handlers._get_run, service_pb2.GetRun, messages.GET_RUN),
    "search-runs": (handlers._search_runs, service_pb2.SearchRuns, messages.SEARCH_RUNS),
    "get-metric-history": (
        handlers._get_metric_history,
        service_pb2.GetMetricHistory,
        messages.GET_METRIC_HISTORY,
    ),
}

# A proto with a bool field, read with no schema checks, for the query-string boolean rules.
TRANSITION_STAGE = ours.RequestSchema(
    fields={
        "name": ours.STRING,
        "version": ours.STRING,
        "stage": ours.STRING,
        "archive_existing_versions": ours.BOOL,
    }
)


def _transition_stage() -> Any:
    handlers._get_request_message(model_registry_pb2.TransitionModelVersionStage())


ENDPOINTS["transition-stage"] = (
    _transition_stage,
    model_registry_pb2.TransitionModelVersionStage,
    TRANSITION_STAGE,
)


def _fill_run_id(message: Any) -> Any:
    # Our reader fills run_id from run_uuid, as every MLflow handler does right after parsing.
    names = {f.name for f in message.DESCRIPTOR.fields}
    if {"run_id", "run_uuid"} <= names and not message.run_id and message.run_uuid:
        message.run_id = message.run_uuid
    return message


def mlflow_reads(
    endpoint: str, method: str, query: str = "", body: bytes = b"", content_type: str | None = None
) -> Outcome:
    handler = ENDPOINTS[endpoint][0]
    handlers._get_request_message = _stop_after_parse
    try:
        with _app.test_request_context(
            "/api/2.0/mlflow/x",
            method=method,
            query_string=query,
            data=body,
            content_type=content_type,
        ):
            try:
                response = handler()
            except _Parsed as parsed:
                message = _fill_run_id(parsed.message)
                return Outcome("ok", message.SerializeToString(deterministic=True))
            except MlflowException as err:  # a bare reader, not wrapped by catch_mlflow_exception
                return Outcome("error", err.error_code, err.message)
            except Exception as err:
                return Outcome("crash", type(err).__name__)
            payload = orjson.loads(response.get_data())
            return Outcome("error", payload["error_code"], payload["message"])
    finally:
        handlers._get_request_message = _ORIGINAL


def _proto_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _proto_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_proto_json(v) for v in value]
    return value


def make_request(
    method: str, query: str = "", body: bytes = b"", content_type: str | None = None
) -> Request:
    headers = [] if content_type is None else [(b"content-type", content_type.encode())]
    scope = {
        "type": "http",
        "method": method,
        "path": "/api/2.0/mlflow/x",
        "query_string": query.encode(),
        "headers": headers,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


async def we_read(
    endpoint: str, method: str, query: str = "", body: bytes = b"", content_type: str | None = None
) -> tuple[Outcome, dict[str, Any] | None]:
    _, proto_class, schema = ENDPOINTS[endpoint]
    try:
        result = await ours.read_request(make_request(method, query, body, content_type), schema)
    except MlflowError as err:
        return Outcome("error", err.error_code, err.message), None
    message = json_format.ParseDict(_proto_json(result), proto_class())
    return Outcome("ok", message.SerializeToString(deterministic=True)), result
