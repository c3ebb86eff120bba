"""Our validation against MLflow 3.17.2's own functions: same outcome, message and truncation."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import flask
import orjson
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.service_pb2 import DatasetInput as ProtoDatasetInput
from mlflow.server import handlers
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
from mlflow.utils import validation as mv

from services.gateway import validation as ours
from services.gateway.errors import MlflowError

NAMES = [
    "a", "a/b", "a b", "a:b", "a.b-c_d", "", ".", "..", "../x", "a/../b", "/x", "a//b", "a/",
    "./a", "a\n", "a\nb", "a*b", "ü", "日本", "a\tb", "a,b", "~x", "x" * 250, "x" * 251,
]  # fmt: skip


def outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """("ok", result) or ("error", code, message); anything else MLflow raises is a crash."""
    try:
        return ("ok", fn(*args, **kwargs))
    except (MlflowException, MlflowError) as err:
        return ("error", err.error_code, err.message)


def passed_validation(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """For store methods called with self=None: getting past validation fails on `self`."""
    try:
        fn(None, *args, **kwargs)
    except MlflowException as err:
        return ("error", err.error_code, err.message)
    except Exception:
        return ("ok", None)
    return ("ok", None)


@pytest.fixture(params=[True, False], ids=["truncate", "no-truncate"])
def truncate(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "true" if request.param else "false")
    monkeypatch.setattr(ours, "TRUNCATE_LONG_VALUES", request.param)
    yield request.param


# ---- metrics ----


@pytest.mark.parametrize("name", [*NAMES, None])
@pytest.mark.parametrize("path", ["", "metrics[3]"])
def test_metric_names(name: str | None, path: str) -> None:
    assert outcome(ours.validate_metric, name, 1.0, 0, 0, path=path) == outcome(
        mv._validate_metric, name, 1.0, 0, 0, path=path
    )


@pytest.mark.parametrize(
    ("value", "timestamp", "step"),
    list(
        itertools.product(
            [1.0, math.nan, math.inf, -math.inf, 0, -2.5, None, "1", True, 5],
            [0, 10, -1, None, 1.5, "5", True],
            [0, -3, None, "1", 1.5],
        )
    ),
)
@pytest.mark.parametrize("path", ["", "metrics[0]"])
def test_metric_values_timestamps_steps(value: Any, timestamp: Any, step: Any, path: str) -> None:
    assert outcome(ours.validate_metric, "m", value, timestamp, step, path=path) == outcome(
        mv._validate_metric, "m", value, timestamp, step, path=path
    )


# ---- params and run tags (truncation) ----

LONG_VALUES = ["v", "", "x" * 6000, "x" * 6001, "y" * 8000, "y" * 8001, None]


@pytest.mark.parametrize("key", [*NAMES, None])
@pytest.mark.parametrize("path", ["", "params[2]"])
def test_param_keys(key: str | None, path: str) -> None:
    expected = outcome(lambda: mv._validate_param(key, "v", path=path).value)
    assert outcome(ours.validate_param, key, "v", path=path) == expected


@pytest.mark.parametrize("value", LONG_VALUES)
@pytest.mark.parametrize("path", ["", "params[2]"])
def test_param_values(value: str | None, path: str, truncate: bool) -> None:
    expected = outcome(lambda: mv._validate_param("k", value, path=path).value)
    assert outcome(ours.validate_param, "k", value, path=path) == expected


@pytest.mark.parametrize("key", [*NAMES, None])
@pytest.mark.parametrize("path", ["", "tags[1]"])
def test_tag_keys(key: str | None, path: str) -> None:
    expected = outcome(lambda: mv._validate_tag(key, "v", path=path).value)
    assert outcome(ours.validate_tag, key, "v", path=path) == expected


@pytest.mark.parametrize("value", LONG_VALUES)
@pytest.mark.parametrize("path", ["", "tags[1]"])
def test_tag_values(value: str | None, path: str, truncate: bool) -> None:
    expected = outcome(lambda: mv._validate_tag("k", value, path=path).value)
    assert outcome(ours.validate_tag, "k", value, path=path) == expected


def test_truncated_values_are_prefixes() -> None:
    assert ours.validate_param("k", "ab" * 4000) == ("ab" * 4000)[:6000]
    assert ours.validate_tag("k", "c" * 9000) == "c" * 8000


# ---- batches ----


@pytest.mark.parametrize(
    ("metrics", "params", "tags"),
    [
        (1000, 0, 0), (1001, 0, 0), (0, 100, 0), (0, 101, 0), (0, 0, 100), (0, 0, 101),
        (900, 100, 0), (900, 100, 1), (998, 1, 1), (1000, 100, 100), (0, 0, 0),
    ],
)  # fmt: skip
def test_batch_limits(metrics: int, params: int, tags: int) -> None:
    args = ([None] * metrics, [None] * params, [None] * tags)
    assert outcome(ours.validate_batch_log_limits, *args) == outcome(
        mv._validate_batch_log_limits, *args
    )


@pytest.mark.parametrize(
    "keys", [[], ["a"], ["a", "b"], ["a", "a"], ["a", "b", "a", "a", "b"], ["x", "y", "x"]]
)
def test_param_keys_unique(keys: list[str]) -> None:
    assert outcome(ours.validate_param_keys_unique, keys) == outcome(
        mv._validate_param_keys_unique, [Param(k, "v") for k in keys]
    )


BATCHES: list[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]] = [
    ([{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}], [{"key": "p", "value": "v"}], []),
    ([{"key": "m", "value": math.nan, "timestamp": 1}], [], [{"key": "t", "value": "z" * 9000}]),
    ([{"key": "ok", "value": 1.0, "timestamp": 1}, {"key": "b*d", "value": 1.0, "timestamp": 1}],
     [], []),
    ([{"key": "m", "value": 1.0, "timestamp": -5, "step": 2}], [], []),
    ([{"key": "m" * 251, "value": 1.0, "timestamp": 1}], [], []),
    ([], [{"key": "p", "value": "v" * 7000}, {"key": "../q", "value": "v"}], []),
    ([], [{"key": "p" * 251, "value": "v"}], []),
    ([], [{"key": "p", "value": "v" * 7000}], [{"key": "t", "value": "w" * 9000}]),
    ([], [], [{"key": "t" * 251, "value": "w"}]),
    ([], [], [{"key": "/abs", "value": "w"}]),
    ([{"key": "m", "value": 1.0, "timestamp": 1}] * 3, [{"key": "p", "value": "1"}] * 2, []),
    ([{"key": "m", "value": 1.0, "timestamp": 1}] * 1001, [], []),
    ([{"key": "m", "value": 1.0, "timestamp": 1}] * 990,
     [{"key": f"p{i}", "value": "1"} for i in range(11)], []),
]  # fmt: skip


def _mlflow_entities(
    metrics: list[dict[str, Any]], params: list[dict[str, Any]], tags: list[dict[str, Any]]
) -> tuple[list[Metric], list[Param], list[RunTag]]:
    return (
        [Metric(m["key"], m["value"], m["timestamp"], m.get("step", 0)) for m in metrics],
        [Param(p["key"], p["value"]) for p in params],
        [RunTag(t["key"], t["value"]) for t in tags],
    )


@pytest.mark.parametrize(("metrics", "params", "tags"), BATCHES)
def test_batch_data(
    metrics: list[dict[str, Any]],
    params: list[dict[str, Any]],
    tags: list[dict[str, Any]],
    truncate: bool,
) -> None:
    def theirs() -> Any:
        _, p, t = mv._validate_batch_log_data(*_mlflow_entities(metrics, params, tags))
        return [x.value for x in p], [x.value for x in t]

    def mine() -> Any:
        _, p, t = ours.validate_batch_log_data(metrics, params, tags)
        return [x["value"] for x in p], [x["value"] for x in t]

    assert outcome(mine) == outcome(theirs)


@pytest.mark.parametrize("run_id", ["abc123", "bad/id", ""])
@pytest.mark.parametrize(("metrics", "params", "tags"), BATCHES)
def test_log_batch_in_the_stores_order(
    run_id: str,
    metrics: list[dict[str, Any]],
    params: list[dict[str, Any]],
    tags: list[dict[str, Any]],
) -> None:
    expected = passed_validation(
        TrackingStore.log_batch, run_id, *_mlflow_entities(metrics, params, tags)
    )
    actual = outcome(ours.validate_log_batch, run_id, metrics, params, tags)
    assert actual[0] == expected[0]
    assert actual[1:] == expected[1:] or actual[0] == "ok"


# ---- experiments ----


@pytest.mark.parametrize("name", ["", None, "a", "x" * 500, "x" * 501, 5, "  ", "a/b"])
def test_experiment_names(name: Any) -> None:
    assert outcome(ours.validate_experiment_name, name) == outcome(
        mv._validate_experiment_name, name
    )


ARCHIVAL_VALUES = [
    '{"type":"duration","value":"30d"}', '{"type":"duration","value":"12h"}',
    '{"type":"duration","value":" 5m "}', '{"type":"duration","value":"0d"}',
    '{"type":"x","value":"30d"}', '{"value":"30d"}', "notjson", "[1]", '"30d"',
    '{"type":"duration","value":5}', '{"type":"duration","value":"' + "1" * 40 + 'd"}',
    '{"type":"duration"}', "{}", '{"older_than":"2h"}', '{"older_than":"2x"}', None,
]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value"),
    [
        *[(name, "v") for name in NAMES],
        (None, "v"),
        ("k", "v" * 20000),
        ("k", "v" * 20001),
        ("k", None),
        *[(key, value) for key in (ours.TRACE_ARCHIVAL_RETENTION_TAG, ours.TRACE_ARCHIVE_NOW_TAG)
          for value in ARCHIVAL_VALUES],
    ],
)  # fmt: skip
def test_experiment_tags(key: str | None, value: str | None) -> None:
    assert outcome(ours.validate_experiment_tag, key, value) == outcome(
        mv._validate_experiment_tag, key, value
    )


@pytest.mark.parametrize(
    "location", ["runs:/abc/model", "runs:", "s3://bucket/x", "file:///tmp", None]
)
def test_experiment_artifact_locations(location: str | None) -> None:
    assert outcome(ours.validate_experiment_artifact_location, location) == outcome(
        mv._validate_experiment_artifact_location, location
    )


@pytest.mark.parametrize("length", [1, 2048, 2049, 5000])
def test_experiment_artifact_location_lengths(length: int) -> None:
    location = "s" * length
    assert outcome(ours.validate_experiment_artifact_location_length, location) == outcome(
        mv._validate_experiment_artifact_location_length, location
    )


# ---- ids ----


@pytest.mark.parametrize(
    "run_id",
    ["abc", "", "-a", "_a", "a" * 256, "a" * 257, "a-b_c", "a.b", "a\n", "ü", "0", "a b", "A9"],
)
def test_run_ids(run_id: str) -> None:
    assert outcome(ours.validate_run_id, run_id) == outcome(mv._validate_run_id, run_id)
    assert outcome(ours.validate_run_id, run_id, path="runs[0]") == outcome(
        mv._validate_run_id, run_id, path="runs[0]"
    )


@pytest.mark.parametrize("experiment_id", [None, "0", "abc", "a" * 64, "a" * 65, "-1", "a b", ""])
def test_experiment_ids(experiment_id: str | None) -> None:
    assert outcome(ours.validate_experiment_id, experiment_id) == outcome(
        mv._validate_experiment_id, experiment_id
    )


# ---- datasets and input tags ----

DATASET_FIELDS = ["name", "digest", "source_type", "source", "schema", "profile"]
DATASET_LIMITS = {
    "name": 500,
    "digest": 36,
    "source": 65535,
    "schema": 1048575,
    "profile": 16777215,
}


def _datasets() -> list[dict[str, str | None]]:
    base: dict[str, str | None] = {
        "name": "d", "digest": "abc", "source_type": "local", "source": "{}",
        "schema": None, "profile": None,
    }  # fmt: skip
    cases = [dict(base)]
    for field in DATASET_FIELDS:
        cases.append({**base, field: None})
        if field in DATASET_LIMITS:
            cases.append({**base, field: "x" * DATASET_LIMITS[field]})
            cases.append({**base, field: "x" * (DATASET_LIMITS[field] + 1)})
    return cases


@pytest.mark.parametrize("fields", _datasets())
def test_datasets(fields: dict[str, str | None]) -> None:
    values: list[Any] = [fields[f] for f in DATASET_FIELDS]
    assert outcome(ours.validate_dataset, *values) == outcome(
        mv._validate_dataset, Dataset(*values)
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("k", "v"), (None, "v"), ("k", None), ("k" * 255, "v"), ("k" * 256, "v"),
     ("k", "v" * 500), ("k", "v" * 501)],
)  # fmt: skip
def test_input_tags(key: Any, value: Any) -> None:
    assert outcome(ours.validate_input_tag, key, value) == outcome(
        mv._validate_input_tag, InputTag(key, value)
    )


DATASET_INPUTS: list[list[dict[str, Any]]] = [
    [],
    [{"dataset": {"name": "d", "digest": "x", "source_type": "t", "source": "s"}}],
    [{"dataset": {"name": "d", "digest": "x" * 37, "source_type": "t", "source": "s"}}],
    [{}],  # an input without a dataset: every field reads as "", which MLflow accepts
    [{"dataset": {"name": "d"}, "tags": [{"key": "k", "value": "v"}, {"key": "k" * 256}]}],
    [{"dataset": {"name": "d"}, "tags": [{"key": "k"}]}, {"dataset": {"schema": "s" * 1048576}}],
]


@pytest.mark.parametrize("inputs", DATASET_INPUTS)
def test_dataset_inputs_as_mlflow_reads_them_from_the_proto(inputs: list[dict[str, Any]]) -> None:
    entities = [
        DatasetInput.from_proto(json_format.ParseDict(i, ProtoDatasetInput())) for i in inputs
    ]
    assert outcome(ours.validate_dataset_inputs, inputs) == outcome(
        mv._validate_dataset_inputs, entities
    )


# ---- model registry and logged models ----

MODEL_NAMES = [
    None, "", "  ", "a/b", "a:b", "a", "..", ".", "a b", " a", "a\\b", "ü", "x" * 300, "a.b",
    "my-model_1",
]  # fmt: skip


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_names(name: str | None) -> None:
    assert outcome(ours.validate_model_name, name) == outcome(mv._validate_model_name, name)
    assert outcome(ours.validate_model_renaming, name) == outcome(mv._validate_model_renaming, name)


@pytest.mark.parametrize("version", ["1", "x", " 2 ", "1.0", 3, "-1", ""])
def test_model_versions(version: Any) -> None:
    assert outcome(ours.validate_model_version, version) == outcome(
        mv._validate_model_version, version
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        *[(name, "v") for name in NAMES],
        (None, "v"),
        ("k", "v" * 100_000),
        ("k", "v" * 100_001),
        ("k", None),
        ("mlflow.prompt.text", "p" * 100_001),
        ("mlflow.prompt.text", "p" * 100_000),
    ],
)
def test_registry_tags(key: str | None, value: str | None) -> None:
    assert outcome(ours.validate_registered_model_tag, key, value) == outcome(
        mv._validate_registered_model_tag, key, value
    )
    assert outcome(ours.validate_model_version_tag, key, value) == outcome(
        mv._validate_model_version_tag, key, value
    )


ALIASES = [
    None, "", "a", "a-b_c", "a b", "a/b", "a" * 255, "a" * 256, "latest", "LATEST", "Latest",
    "v1", "V12", "v", "v1a", "ü", "champion", "a\n",
]  # fmt: skip


@pytest.mark.parametrize("alias", ALIASES)
def test_alias_names(alias: str | None) -> None:
    assert outcome(ours.validate_model_alias_name, alias) == outcome(
        mv._validate_model_alias_name, alias
    )
    if alias is not None:
        assert outcome(ours.validate_model_alias_name_reserved, alias) == outcome(
            mv._validate_model_alias_name_reserved, alias
        )


@pytest.mark.parametrize(
    "name", [None, "", "a", "a.b", "a/b", "a%b", 'a"b', "a'b", "ok-name", "a:b", "model 1"]
)
def test_logged_model_names(name: str | None) -> None:
    assert outcome(ours.validate_logged_model_name, name) == outcome(
        mv._validate_logged_model_name, name
    )


# ---- search page sizes ----


@pytest.mark.parametrize("max_results", [None, 0, -1, 1, 1000, 50000, 50001])
@pytest.mark.parametrize("allow_null", [True, False])
def test_search_max_results(max_results: int | None, allow_null: bool) -> None:
    assert outcome(ours.validate_search_max_results, max_results, allow_null=allow_null) == outcome(
        TrackingStore._validate_max_results_param, None, max_results, allow_null=allow_null
    )


@pytest.mark.parametrize("max_results", [1, 1000, 1001, 5000])
def test_registered_model_search_max_results(max_results: int) -> None:
    expected = passed_validation(RegistryStore.search_registered_models, max_results=max_results)
    assert (
        outcome(ours.validate_registered_model_search_max_results, max_results)[0::2]
        == (expected[0::2])
    )


@pytest.mark.parametrize("max_results", [0, -1, 1, 200_000, 200_001, "5", 1.5])
def test_model_version_search_max_results(max_results: Any) -> None:
    expected = passed_validation(RegistryStore.search_model_versions, max_results=max_results)
    assert (
        outcome(ours.validate_model_version_search_max_results, max_results)[0::2]
        == (expected[0::2])
    )


class _Store:
    def get_metric_history(self, *args: Any, **kwargs: Any) -> PagedList[Any]:
        return PagedList([], None)


@pytest.mark.parametrize("max_results", ["0", "-3", "1", "25000"])
def test_metric_history_max_results(max_results: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "_get_tracking_store", _Store)
    query = f"run_id=r&metric_key=m&max_results={max_results}"
    with flask.Flask(__name__).test_request_context("/x", method="GET", query_string=query):
        response = handlers._get_metric_history()
    payload = orjson.loads(response.get_data())
    expected = (
        ("ok", None)
        if "error_code" not in payload
        else ("error", payload["error_code"], payload["message"])
    )
    assert outcome(ours.validate_metric_history_max_results, int(max_results)) == expected


# ---- random names ----

names = st.text(alphabet=st.sampled_from(list("aZ9/.:- _\n\t*%'\"\\üé[]~")), max_size=7)


@settings(max_examples=500, deadline=None)
@given(name=names)
def test_random_names(name: str) -> None:
    pairs: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
        (ours.validate_metric_name, mv._validate_metric_name),
        (ours.validate_param_name, mv._validate_param_name),
        (ours.validate_tag_name, mv._validate_tag_name),
        (ours.validate_model_name, mv._validate_model_name),
        (ours.validate_model_alias_name, mv._validate_model_alias_name),
        (ours.validate_model_alias_name_reserved, mv._validate_model_alias_name_reserved),
        (ours.validate_logged_model_name, mv._validate_logged_model_name),
        (ours.validate_run_id, mv._validate_run_id),
        (ours.validate_experiment_id, mv._validate_experiment_id),
        (ours.validate_experiment_name, mv._validate_experiment_name),
    ]
    for mine, theirs in pairs:
        assert outcome(mine, name) == outcome(theirs, name), mine.__name__
