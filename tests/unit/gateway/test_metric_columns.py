"""log-batch's column-wise check of metrics (`well_formed_metrics`) against the element-wise
path it short-cuts (`read_request`'s conversion, then `validate_log_batch`).

Whenever the column-wise check passes a batch, the element-wise path must pass it too and make
the same event; and the bodies the mlflow client sends must pass it, or it would never be used.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.entities import Metric
from mlflow.protos.service_pb2 import LogBatch
from mlflow.utils.proto_json_utils import message_to_json

from schemas import MetricsLogged
from services.gateway.errors import MlflowError
from services.gateway.mlflow.messages import LOG_BATCH
from services.gateway.mlflow.runs import _metrics_event
from services.gateway.validation import validate_log_batch, well_formed_metrics

RUN = "0f3c9a1e2b7d4c5f8a6e9d1c2b3a4f5e"
INT64 = (-(2**63), 2**63 - 1)

GOOD_KEYS = ["loss", "train/acc", "val loss", "a.b-c_d:e", "x" * 250]
BAD_KEYS = ["", "a/../b", "/abs", "x" * 251, "bad!char", ".", "a//b"]

good_points = st.fixed_dictionaries(
    {
        "key": st.sampled_from(GOOD_KEYS),
        "value": st.floats(allow_nan=False, allow_infinity=False),
        "timestamp": st.integers(min_value=0, max_value=INT64[1]),
        "step": st.integers(min_value=INT64[0], max_value=INT64[1]),
    }
)
odd_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.sampled_from([-1, 0, 1, INT64[0] - 1, INT64[1] + 1])
    | st.floats()
    | st.sampled_from(["NaN", "Infinity", "1", "1.5", "", "abc"])
    | st.sampled_from(BAD_KEYS + GOOD_KEYS)
    | st.lists(st.integers(), max_size=2)
)


@st.composite
def perturbed_points(draw: st.DrawFn) -> Any:
    point: dict[str, Any] = dict(draw(good_points))
    change = draw(st.sampled_from(["replace", "drop", "add", "not a dict"]))
    if change == "replace":
        point[draw(st.sampled_from(sorted(point)))] = draw(odd_values)
    elif change == "drop":
        del point[draw(st.sampled_from(sorted(point)))]
    elif change == "add":
        point[draw(st.sampled_from(["model_id", "modelId", "dataset_name", "x"]))] = draw(
            odd_values
        )
    else:
        return draw(odd_values)
    return point


def element_wise(metrics: Any) -> MetricsLogged | None:
    """The event the general path makes of these metrics, or None if it refuses them."""
    try:
        body = LOG_BATCH.read({"run_id": RUN, "metrics": metrics})
        checked, _, _ = validate_log_batch(RUN, body.get("metrics", []), [], [])
    except MlflowError:
        return None
    return _metrics_event(RUN, checked) if checked else None


def column_wise(metrics: Any) -> MetricsLogged | None:
    columns = well_formed_metrics(metrics)
    if columns is None:
        return None
    return MetricsLogged.from_columns(
        RUN, columns.keys, columns.values, columns.timestamps, columns.steps
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(good_points | perturbed_points(), max_size=5))
def test_what_the_columns_pass_the_element_wise_path_passes_alike(metrics: list[Any]) -> None:
    fast = column_wise(metrics)
    if fast is not None:
        assert element_wise(metrics) == fast


@settings(max_examples=200, deadline=None)
@given(st.lists(good_points, min_size=1, max_size=20))
def test_well_formed_metrics_take_the_columns(metrics: list[dict[str, Any]]) -> None:
    fast = column_wise(metrics)
    assert fast is not None
    assert fast == element_wise(metrics)


def test_the_mlflow_clients_own_body_takes_the_columns() -> None:
    metrics = [
        Metric(key=f"k{i % 3}", value=i / 7, timestamp=1_700_000_000_000 + i, step=i).to_proto()
        for i in range(50)
    ] + [Metric(key="whole", value=2.0, timestamp=0, step=0).to_proto()]
    body = orjson.loads(message_to_json(LogBatch(run_id=RUN, metrics=metrics)))
    columns = well_formed_metrics(body["metrics"])
    assert columns is not None
    assert columns.keys[:3] == ["k0", "k1", "k2"]
    assert columns.values[-1] == 2.0
    assert columns.timestamps[-1] == 0


def test_anything_else_takes_the_element_wise_path() -> None:
    point = {"key": "loss", "value": 1.0, "timestamp": 1, "step": 0}
    assert well_formed_metrics([point]) is not None
    for odd in [
        [],
        None,
        "metrics",
        [point, 5],
        [{**point, "value": 1}],  # an int value: converted to float by the general path
        [{**point, "value": True}],
        [{**point, "timestamp": -1}],
        [{**point, "step": INT64[1] + 1}],
        [{**point, "key": "a/../b"}],
        [{**point, "key": ""}],
        [{**point, "modelId": "m-1"}],
        [{k: v for k, v in point.items() if k != "step"}],
    ]:
        assert well_formed_metrics(odd) is None, odd
