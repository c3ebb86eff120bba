"""Random request bodies and queries, read by MLflow and by us: the answers must agree.

Agreement means: the same error when MLflow refuses; the same parsed message when protobuf
parses the whole request; a 400 from us where MLflow goes on half-parsed or fails with a 500.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlencode

import orjson
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.gateway.oracle import ENDPOINTS, mlflow_reads, we_read

SPECIAL_STRINGS = [
    "NaN", "Infinity", "-Infinity", "nan", "inf", "1", "-1", "1.5", "1e3", " 2", "2 ", "1_0",
    "abc", "", "ACTIVE_ONLY", "ALL", "DELETED_ONLY", "2", "7", "true", "r", "m",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.integers(min_value=-5, max_value=5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.5, 1.0, -0.0, 1e300, 2.0**63])
    | st.text(max_size=4)
    | st.sampled_from(SPECIAL_STRINGS)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["key", "value", "a", "timestamp"]), children, max_size=3)
    ),
    max_leaves=6,
)


def fields_of(endpoint: str) -> list[str]:
    proto = ENDPOINTS[endpoint][1]
    names = [f.name for f in proto.DESCRIPTOR.fields]
    return [*names, *(f.json_name for f in proto.DESCRIPTOR.fields), "unknown"]


def message_dicts(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=6)


METRIC_KEYS = ["key", "value", "timestamp", "step", "model_id", "modelId", "run_id", "runId", "x"]
TAG_KEYS = ["key", "value", "x"]


def bodies(endpoint: str) -> st.SearchStrategy[dict[str, Any]]:
    nested: dict[str, st.SearchStrategy[Any]] = {
        "metrics": st.lists(message_dicts(METRIC_KEYS) | json_values, max_size=3),
        "params": st.lists(message_dicts(TAG_KEYS), max_size=3),
        "tags": st.lists(message_dicts(TAG_KEYS) | json_values, max_size=3),
        "experiment_ids": st.lists(scalars, max_size=3),
        "order_by": st.lists(scalars, max_size=3),
    }
    keys = fields_of(endpoint)
    values = st.sampled_from(keys).flatmap(
        lambda k: st.tuples(st.just(k), nested.get(k, json_values) | json_values)
    )
    return st.lists(values, max_size=8).map(dict)


def parses_fully(endpoint: str, raw: dict[str, Any]) -> bool:
    try:
        json_format.ParseDict(raw, ENDPOINTS[endpoint][1](), ignore_unknown_fields=True)
    except Exception:
        return False
    return True


def holds_a_non_object_message(descriptor: Any, raw: Any) -> bool:
    """A non-object where a message belongs: protobuf may read it as empty, we refuse it."""
    if not isinstance(raw, dict):
        return False
    for field in descriptor.fields:
        if field.message_type is None:
            continue
        value = raw.get(field.name, raw.get(field.json_name))
        for item in value if isinstance(value, list) and field.is_repeated else [value]:
            if item is None:
                continue
            if not isinstance(item, dict) or holds_a_non_object_message(field.message_type, item):
                return True
    return False


def agree(endpoint: str, method: str, query: str, payload: bytes, raw: dict[str, Any]) -> None:
    content_type = "application/json" if method == "POST" else None
    expected = mlflow_reads(endpoint, method, query, payload, content_type)
    actual, _ = asyncio.run(we_read(endpoint, method, query, payload, content_type))
    if expected.kind == "error":
        assert actual == expected
    elif expected.kind == "ok" and parses_fully(endpoint, raw):
        if holds_a_non_object_message(ENDPOINTS[endpoint][1].DESCRIPTOR, raw):
            assert actual.kind == "error" or actual == expected
        else:
            assert actual == expected
    elif expected.kind == "ok":  # MLflow went on with a half-parsed message: we refuse
        assert actual.kind == "error", (expected, actual)
        assert actual.detail == "INVALID_PARAMETER_VALUE"
    # MLflow crashed (a 500): any 400 or a sensible reading will do; we never raise otherwise.


# LEDGERFLOW_FUZZ_EXAMPLES=5000 for a longer hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("LEDGERFLOW_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(raw=bodies("log-metric"))
def test_log_metric_bodies(raw: dict[str, Any]) -> None:
    agree("log-metric", "POST", "", orjson.dumps(raw), raw)


@FUZZ
@given(raw=bodies("log-batch"))
def test_log_batch_bodies(raw: dict[str, Any]) -> None:
    agree("log-batch", "POST", "", orjson.dumps(raw), raw)


@FUZZ
@given(raw=bodies("search-runs"))
def test_search_runs_bodies(raw: dict[str, Any]) -> None:
    agree("search-runs", "POST", "", orjson.dumps(raw), raw)


@FUZZ
@given(raw=bodies("create-run"))
def test_create_run_bodies(raw: dict[str, Any]) -> None:
    agree("create-run", "POST", "", orjson.dumps(raw), raw)


query_values = st.text(max_size=4) | st.sampled_from(SPECIAL_STRINGS)


@FUZZ
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(
                ["experiment_ids", "filter", "run_view_type", "max_results", "order_by", "x"]
            ),
            query_values,
        ),
        min_size=1,
        max_size=6,
    )
)
def test_search_runs_queries(pairs: list[tuple[str, str]]) -> None:
    query = urlencode(pairs)
    raw: dict[str, Any] = {}
    for key, value in pairs:
        if key in ("experiment_ids", "order_by"):
            raw.setdefault(key, []).append(value)
        elif key != "x":
            raw.setdefault(key, value)
    agree("search-runs", "GET", query, b"", raw)


@FUZZ
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["run_id", "run_uuid", "metric_key", "max_results"]), query_values
        ),
        max_size=5,
    )
)
def test_get_metric_history_queries(pairs: list[tuple[str, str]]) -> None:
    raw: dict[str, Any] = {}
    for key, value in pairs:
        raw.setdefault(key, value)
    agree("get-metric-history", "GET", urlencode(pairs), b"", raw)
