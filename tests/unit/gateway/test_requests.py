"""read_request against MLflow's own `_get_request_message`, driven in a Flask request context."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from services.gateway import requests as ours
from services.gateway.errors import MlflowError
from services.gateway.mlflow import messages
from tests.unit.gateway.oracle import Outcome, make_request, mlflow_reads, we_read

JSON = "application/json"
DOCS = " See the API docs for more information about request parameters."


def body(value: Any) -> bytes:
    return orjson.dumps(value)


def metric(**fields: Any) -> dict[str, Any]:
    return {"key": "m", "value": 1.5, "timestamp": 10, "step": 1, **fields}


BATCH_METRICS = [metric(key=f"m{i}", step=i) for i in range(1000)]

# (endpoint, method, query, body, content type): MLflow and we must answer the same.
SAME: list[tuple[str, str, str, bytes, str | None]] = [
    # log-metric: conversions that parse
    ("log-metric", "POST", "", body({"run_id": "r", **metric()}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value="NaN")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value="Infinity")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value="-Infinity")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value="2.5e3")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value=3)}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value=True)}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(timestamp="12")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(timestamp="1e3")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(timestamp=7.0)}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(step=None)}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(step=0)}), JSON),
    ("log-metric", "POST", "", body({"run_uuid": "r", **metric()}), JSON),
    ("log-metric", "POST", "", body({"runId": "r", **metric()}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", "modelId": "m-1", **metric()}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", "unknown": [1], **metric()}), JSON),
    (
        "log-metric",
        "POST",
        "",
        body({"run_id": "r", **metric()}),
        "application/json; charset=utf-8",
    ),
    # log-metric: type errors, missing fields, aliases
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value="abc")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value=None)}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value="")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(timestamp="abc")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(timestamp=None)}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", "key": "m", "value": 1}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(step="x")}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(key=5)}), JSON),
    ("log-metric", "POST", "", body({"run_id": 5, **metric()}), JSON),
    ("log-metric", "POST", "", body({"run_id": "", "run_uuid": "r", **metric()}), JSON),
    ("log-metric", "POST", "", body({"run_id": None, "run_uuid": "r", **metric()}), JSON),
    ("log-metric", "POST", "", body(metric()), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", "value": 1, "timestamp": 1}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(model_id=3)}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", "runId": "s", **metric()}), JSON),
    ("log-metric", "POST", "", body({"run_id": "r", **metric(value="abc", key=None)}), JSON),
    # transport: content type, empty, null and double-encoded bodies
    ("log-metric", "POST", "", body({"run_id": "r", **metric()}), "text/plain"),
    ("log-metric", "POST", "", body({"run_id": "r", **metric()}), None),
    ("log-metric", "POST", "", body({"run_id": "r", **metric()}), "Application/JSON"),
    ("log-metric", "PUT", "", body({"run_id": "r", **metric()}), "text/plain"),
    ("log-metric", "PATCH", "", body({"run_id": "r", **metric()}), "text/plain"),
    ("log-metric", "DELETE", "", body({"run_id": "r", **metric()}), None),
    ("log-metric", "POST", "", b"", JSON),
    ("log-metric", "POST", "", b"null", JSON),
    ("log-metric", "POST", "", body(orjson.dumps({"run_id": "r", **metric()}).decode()), JSON),
    ("log-metric", "GET", "", body({"run_id": "r", **metric()}), None),
    # log-parameter / set-tag
    ("log-parameter", "POST", "", body({"run_id": "r", "key": "k", "value": "v"}), JSON),
    ("log-parameter", "POST", "", body({"run_id": "r", "key": "k"}), JSON),
    ("log-parameter", "POST", "", body({"run_id": "r", "key": "k", "value": None}), JSON),
    ("log-parameter", "POST", "", body({"run_id": "r", "key": "k", "value": 5}), JSON),
    ("set-tag", "POST", "", body({"run_uuid": "r", "key": "k", "value": "v"}), JSON),
    ("set-tag", "POST", "", body({"run_id": "r", "key": "", "value": "v"}), JSON),
    # log-batch
    ("log-batch", "POST", "", body({"run_id": "r", "metrics": BATCH_METRICS}), JSON),
    (
        "log-batch",
        "POST",
        "",
        body(
            {
                "run_id": "r",
                "metrics": [metric(), metric(value="NaN", runId="r", modelId="x")],
                "params": [{"key": "p", "value": "1"}, {"key": "q"}],
                "tags": [{"key": "t", "value": "v"}],
            }
        ),
        JSON,
    ),
    ("log-batch", "POST", "", body({"run_id": "r", "metrics": [metric(), {"key": "b"}]}), JSON),
    ("log-batch", "POST", "", body({"run_id": "r", "metrics": [metric(key="")]}), JSON),
    ("log-batch", "POST", "", body({"run_id": "r", "metrics": [metric(timestamp=None)]}), JSON),
    ("log-batch", "POST", "", body({"run_id": "r", "params": [{"value": "v"}]}), JSON),
    ("log-batch", "POST", "", body({"run_id": "r", "tags": [{"key": "", "value": "v"}]}), JSON),
    ("log-batch", "POST", "", body({"run_id": "r", "metrics": {"key": "m"}}), JSON),
    ("log-batch", "POST", "", body({"run_id": "r", "params": "p"}), JSON),
    ("log-batch", "POST", "", body({"metrics": [metric()]}), JSON),
    ("log-batch", "POST", "", body({"run_uuid": "r", "metrics": [metric()]}), JSON),
    ("log-batch", "POST", "", body({"run_id": "r", "metrics": []}), JSON),
    (
        "log-batch",
        "POST",
        "",
        body({"run_id": "r", "metrics": [metric(run_id="a", runId="b")]}),
        JSON,
    ),
    # log-inputs (nested messages)
    (
        "log-inputs",
        "POST",
        "",
        body(
            {
                "run_id": "r",
                "datasets": [
                    {
                        "dataset": {
                            "name": "d",
                            "digest": "abc",
                            "source_type": "local",
                            "source": "{}",
                            "schema": "{}",
                        },
                        "tags": [{"key": "mlflow.data.context", "value": "train"}],
                    }
                ],
                "models": [{"model_id": "m-1"}],
            }
        ),
        JSON,
    ),
    ("log-inputs", "POST", "", body({"run_id": "r", "datasets": {"dataset": {}}}), JSON),
    (
        "log-inputs",
        "POST",
        "",
        body({"run_id": "r", "datasets": [{"dataset": {"sourceType": "x"}}]}),
        JSON,
    ),
    # create-run
    (
        "create-run",
        "POST",
        "",
        body(
            {
                "experiment_id": "0",
                "user_id": "u",
                "run_name": "n",
                "start_time": "123",
                "tags": [{"key": "a", "value": "b"}],
            }
        ),
        JSON,
    ),
    ("create-run", "POST", "", body({"experiment_id": 0}), JSON),
    ("create-run", "POST", "", body({"experiment_id": "0", "start_time": "abc"}), JSON),
    ("create-run", "POST", "", body({"run_name": ["n"]}), JSON),
    ("create-run", "POST", "", b"", JSON),
    # get-run (GET query)
    ("get-run", "GET", "run_id=abc", b"", None),
    ("get-run", "GET", "run_uuid=abc", b"", None),
    ("get-run", "GET", "run_id=", b"", None),
    ("get-run", "GET", "run_id=a&run_id=b", b"", None),
    ("get-run", "GET", "other=1", b"", None),
    ("get-run", "GET", "", b"", None),
    ("get-run", "GET", "run_id=a%20b%2Bc+d", b"", None),
    # search-runs (repeated fields, enum, int32)
    (
        "search-runs",
        "GET",
        "experiment_ids=1&experiment_ids=2&order_by=a&order_by=b+DESC&max_results=10"
        "&run_view_type=ALL&filter=metrics.x+%3E+1&page_token=tok",
        b"",
        None,
    ),
    ("search-runs", "GET", "experiment_ids=1", b"", None),
    ("search-runs", "GET", "max_results=abc", b"", None),
    ("search-runs", "GET", "max_results=50001", b"", None),
    ("search-runs", "GET", "max_results=50000", b"", None),
    ("search-runs", "GET", "max_results=3000000000", b"", None),
    ("search-runs", "GET", "max_results=-5", b"", None),
    ("search-runs", "GET", "run_view_type=FOO", b"", None),
    ("search-runs", "GET", "run_view_type=2", b"", None),
    ("search-runs", "GET", "run_view_type=deleted_only", b"", None),
    ("search-runs", "POST", "", body({"experiment_ids": ["1"], "max_results": 5}), JSON),
    ("search-runs", "POST", "", body({"experiment_ids": "1"}), JSON),
    ("search-runs", "POST", "", body({"experiment_ids": ["1"], "order_by": ["a", 1]}), JSON),
    ("search-runs", "POST", "", body({"experiment_ids": ["1"], "order_by": "a"}), JSON),
    ("search-runs", "POST", "", body({"experiment_ids": ["1"], "max_results": 50001}), JSON),
    ("search-runs", "POST", "", body({"experiment_ids": ["1"], "max_results": "7"}), JSON),
    ("search-runs", "POST", "", body({"runViewType": "DELETED_ONLY", "maxResults": 3}), JSON),
    ("search-runs", "POST", "", body({"filter": 3}), JSON),
    # get-metric-history
    ("get-metric-history", "GET", "run_id=r&metric_key=m&max_results=5", b"", None),
    ("get-metric-history", "GET", "run_uuid=r&metric_key=m", b"", None),
    ("get-metric-history", "GET", "run_id=r", b"", None),
    # booleans from a query string
    ("transition-stage", "GET", "name=m&version=1&archive_existing_versions=TRUE", b"", None),
    ("transition-stage", "GET", "name=m&archive_existing_versions=false", b"", None),
    ("transition-stage", "GET", "name=m&archive_existing_versions=yes", b"", None),
    ("transition-stage", "GET", "archive_existing_versions=", b"", None),
    ("transition-stage", "POST", "", body({"archive_existing_versions": True}), JSON),
]


@pytest.mark.parametrize(("endpoint", "method", "query", "payload", "content_type"), SAME)
async def test_same_answer_as_mlflow(
    endpoint: str, method: str, query: str, payload: bytes, content_type: str | None
) -> None:
    expected = mlflow_reads(endpoint, method, query, payload, content_type)
    assert expected.kind in ("ok", "error"), expected
    actual, _ = await we_read(endpoint, method, query, payload, content_type)
    assert actual == expected


def invalid(path: str, shown: str, type_name: str) -> str:
    hint = f" Hint: Value was of type '{type_name}'."
    return f"Invalid value {shown} for parameter '{path}' supplied: {hint}{DOCS}"


# Where MLflow goes on with a half-parsed message (ok) or fails with a 500 (crash), we refuse
# the request with a 400. (endpoint, method, query, body, content type, MLflow, our message)
DIFFERENT: list[tuple[str, str, str, bytes, str | None, str, str]] = [
    (
        "log-metric",
        "POST",
        "",
        body({"run_id": "r", **metric(timestamp=1.5)}),
        JSON,
        "ok",
        invalid("timestamp", "1.5", "float"),
    ),
    (
        "log-metric",
        "POST",
        "",
        body({"run_id": "r", **metric(timestamp=2**63)}),
        JSON,
        "ok",
        invalid("timestamp", str(2**63), "int"),
    ),
    (
        "log-metric",
        "POST",
        "",
        body({"run_id": "r", **metric(value="nan")}),
        JSON,
        "ok",
        invalid("value", '"nan"', "str"),
    ),
    (
        "log-metric",
        "POST",
        "",
        body({"run_id": "r", "key": "m", "value": 1, "step": "x"}),
        JSON,
        "crash",
        invalid("timestamp", "null", "NoneType"),
    ),
    (
        "log-metric",
        "POST",
        "",
        body({"run_id": "r", **metric(value=[1])}),
        JSON,
        "crash",
        invalid("value", "[1]", "list"),
    ),
    (
        "log-metric",
        "POST",
        "",
        b"[1, 2]",
        JSON,
        "crash",
        "Bad Request. The request body must be a JSON object, not an array.",
    ),
    (
        "log-metric",
        "POST",
        "",
        b"5",
        JSON,
        "crash",
        "Bad Request. The request body must be a JSON object, not a number.",
    ),
    (
        "log-metric",
        "POST",
        "",
        b'"not json"',
        JSON,
        "crash",
        "Bad Request. The request body is a JSON string but not encoded JSON: "
        "invalid literal, expected 'null': line 1 column 1 (char 0)",
    ),
    (
        "log-batch",
        "POST",
        "",
        body({"run_id": "r", "metrics": [metric(), metric(value="x")]}),
        JSON,
        "ok",
        invalid("metrics[1].value", '"x"', "str"),
    ),
    (
        "log-batch",
        "POST",
        "",
        body({"run_id": "r", "metrics": ["abc"]}),
        JSON,
        "crash",
        invalid("metrics[0]", '"abc"', "str"),
    ),
    (
        "log-batch",
        "POST",
        "",
        body({"run_id": "r", "tags": [None]}),
        JSON,
        "crash",
        invalid("tags[0]", "null", "NoneType"),
    ),
    (
        "log-inputs",
        "POST",
        "",
        body({"run_id": "r", "datasets": [{"dataset": "d"}]}),
        JSON,
        "ok",
        invalid("datasets[0].dataset", '"d"', "str"),
    ),
    (
        "create-run",
        "POST",
        "",
        body({"experiment_id": "0", "user_id": 5}),
        JSON,
        "ok",
        invalid("user_id", "5", "int"),
    ),
    (
        "get-metric-history",
        "GET",
        "run_id=r&metric_key=m&max_results=x",
        b"",
        None,
        "ok",
        invalid("max_results", '"x"', "str"),
    ),
    (
        "search-runs",
        "GET",
        "run_view_type=7",
        b"",
        None,
        "ok",
        invalid("run_view_type", '"7"', "str"),
    ),
    (
        "search-runs",
        "GET",
        "experiment_ids=1&max_results=1e3",
        b"",
        None,
        "crash",
        "",
    ),
]


@pytest.mark.parametrize(
    ("endpoint", "method", "query", "payload", "content_type", "mlflow_kind", "message"), DIFFERENT
)
async def test_where_mlflow_half_parses_or_crashes_we_refuse(
    endpoint: str,
    method: str,
    query: str,
    payload: bytes,
    content_type: str | None,
    mlflow_kind: str,
    message: str,
) -> None:
    assert mlflow_reads(endpoint, method, query, payload, content_type).kind == mlflow_kind
    actual, result = await we_read(endpoint, method, query, payload, content_type)
    if message:
        assert actual == Outcome("error", "INVALID_PARAMETER_VALUE", message)
    else:  # "1e3" is a valid int32 for protobuf; MLflow's int("1e3") fails in its bound check
        assert actual.kind == "ok"
        assert result == {"experiment_ids": ["1"], "max_results": 1000}


async def test_malformed_json_is_a_400_where_mlflow_reads_an_empty_body() -> None:
    assert mlflow_reads("log-metric", "POST", "", b"{bad", JSON) == Outcome(
        "error", "INVALID_PARAMETER_VALUE", f"Missing value for required parameter 'run_id'.{DOCS}"
    )
    actual, _ = await we_read("log-metric", "POST", "", b"{bad", JSON)
    assert actual.kind == "error"
    assert actual.detail == "INVALID_PARAMETER_VALUE"
    assert actual.message is not None
    assert actual.message.startswith("Bad Request. The request body is not valid JSON: ")


async def test_result_is_plain_converted_values_with_unset_fields_left_out() -> None:
    payload = body({"run_uuid": "r", "key": "m", "value": "NaN", "timestamp": "5", "step": None})
    result = await ours.read_request(
        make_request("POST", body=payload, content_type=JSON), messages.LOG_METRIC
    )
    assert set(result) == {"run_uuid", "run_id", "key", "value", "timestamp"}
    assert result["run_id"] == "r"
    assert math.isnan(result["value"])
    assert result["timestamp"] == 5


async def test_query_values_are_converted_by_field_kind() -> None:
    request = make_request(
        "GET", "experiment_ids=1&experiment_ids=2&max_results=10&run_view_type=1&order_by=a"
    )
    assert await ours.read_request(request, messages.SEARCH_RUNS) == {
        "experiment_ids": ["1", "2"],
        "max_results": 10,
        "run_view_type": "ACTIVE_ONLY",
        "order_by": ["a"],
    }


async def test_a_bodiless_delete_reads_its_query_string() -> None:
    # MLflow reads only a GET's query string; a DELETE without a body is read the same way here.
    result = await ours.read_request(make_request("DELETE", "run_id=abc"), messages.GET_RUN)
    assert result == {"run_id": "abc"}


async def test_a_bom_and_surrounding_whitespace_are_accepted() -> None:
    payload = b"\xef\xbb\xbf  " + body({"run_id": "abc"}) + b"\n"
    result = await ours.read_request(
        make_request("POST", body=payload, content_type=JSON), messages.GET_RUN
    )
    assert result == {"run_id": "abc"}


async def test_whitespace_body_is_empty() -> None:
    with pytest.raises(MlflowError) as caught:
        await ours.read_request(
            make_request("POST", body=b" \n", content_type=JSON), messages.GET_RUN
        )
    assert caught.value.message == f"Missing value for required parameter 'run_id'.{DOCS}"


def test_well_typed_metrics_are_not_copied() -> None:
    raw = {"run_id": "r", "metrics": [metric(), metric(key="b")]}
    result = messages.LOG_BATCH.read(raw)
    assert result["metrics"][0] is raw["metrics"][0]
    mixed = [metric(), metric(value=1), metric(step="2", extra=1)]
    converted = messages.LOG_BATCH.read({"run_id": "r", "metrics": mixed})["metrics"]
    assert converted[0] is mixed[0]
    assert converted[1] == metric(value=1.0)
    assert type(converted[1]["value"]) is float
    assert converted[2] == metric(step=2)
    assert mixed[2] == metric(step="2", extra=1)  # the decoded body is never modified


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (ours.INT64, "-12", -12),
        (ours.INT64, "1_000", 1000),
        (ours.INT64, "2.0", 2),
        (ours.INT64, 2**63 - 1, 2**63 - 1),
        (ours.INT32, 2**31 - 1, 2**31 - 1),
        (ours.DOUBLE, "Infinity", math.inf),
        (ours.DOUBLE, "-Infinity", -math.inf),
        (ours.DOUBLE, " 1.5 ", 1.5),
        (ours.BOOL, True, True),
        (ours.STRING, "", ""),
        (ours.repeated(ours.STRING), ["a", "b"], ["a", "b"]),
        (ours.repeated(ours.INT64), ["1", 2], [1, 2]),
        (ours.repeated(messages.VIEW_TYPE), ["ALL", "NOPE", 2], ["ALL", "DELETED_ONLY"]),
    ],
)
def test_kinds_convert_like_protobuf(kind: ours.Kind, value: Any, expected: Any) -> None:
    schema = ours.RequestSchema(fields={"f": kind})
    assert schema.read({"f": value}) == {"f": expected}


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (ours.INT64, " 1"),
        (ours.INT64, True),
        (ours.INT64, 2**63),
        (ours.INT32, 2**31),
        (ours.INT64, "1.5"),
        (ours.DOUBLE, "nan"),
        (ours.DOUBLE, "x"),
        (ours.DOUBLE, [1.0]),
        (ours.BOOL, "true"),
        (ours.BOOL, 1),
        (ours.STRING, 1),
        (ours.repeated(ours.STRING), "a"),
        (ours.repeated(ours.STRING), ["a", None]),
        (messages.VIEW_TYPE, 9),
        (messages.VIEW_TYPE, ["ALL"]),
        (ours.message({"a": ours.STRING}), "a"),
    ],
)
def test_kinds_refuse_like_protobuf(kind: ours.Kind, value: Any) -> None:
    with pytest.raises(MlflowError) as caught:
        ours.RequestSchema(fields={"f": kind}).read({"f": value})
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "parameter 'f" in caught.value.message
