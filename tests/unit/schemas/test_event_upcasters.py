"""Upcasters: historical experiment.created and metrics.logged v1 read as v2; current events
pass untouched."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from schemas import (
    EventDecodeError,
    ExperimentCreated,
    MetricsLogged,
    Tag,
    decode,
    encode,
    new_event,
)
from schemas.envelope import SYSTEM_ACTOR
from schemas.upcasters import UPCASTERS, PayloadDict, UpcastError, missing_upcasters, upcast

V1_EXPERIMENT_CREATED = b"""{
  "event_id": "01901a2b-3c4d-7e5f-8a6b-7c8d9e0f1a2b",
  "type": "experiment.created",
  "schema_version": 1,
  "aggregate": "42",
  "occurred_at": "2023-11-14T22:13:20.000000Z",
  "actor": {"name": "ana", "kind": "self_reported"},
  "source": "gateway",
  "payload": {
    "experiment_id": "42",
    "name": "churn",
    "artifact_location": "s3://bucket/42",
    "tags": {"team": "risk", "mlflow.note.content": "first"}
  }
}"""


def test_experiment_created_is_at_version_2() -> None:
    assert ExperimentCreated.SCHEMA_VERSION == 2


def test_a_v1_experiment_created_decodes_to_the_v2_payload() -> None:
    envelope = decode(V1_EXPERIMENT_CREATED)

    assert envelope.schema_version == 2
    assert envelope.payload == ExperimentCreated(
        experiment_id="42",
        name="churn",
        artifact_location="s3://bucket/42",
        tags=[Tag(key="team", value="risk"), Tag(key="mlflow.note.content", value="first")],
    )
    assert orjson.loads(encode(envelope))["payload"]["tags"][0] == {"key": "team", "value": "risk"}


@pytest.mark.parametrize("tags", [{}, None, "absent"])
def test_a_v1_experiment_created_without_tags_gets_an_empty_list(tags: Any) -> None:
    doc = orjson.loads(V1_EXPERIMENT_CREATED)
    if tags == "absent":
        del doc["payload"]["tags"]
    else:
        doc["payload"]["tags"] = tags

    envelope = decode(orjson.dumps(doc))

    assert isinstance(envelope.payload, ExperimentCreated)
    assert envelope.payload.tags == []


def test_a_v1_experiment_created_with_list_tags_is_refused() -> None:
    doc = orjson.loads(V1_EXPERIMENT_CREATED)
    doc["payload"]["tags"] = [{"key": "team", "value": "risk"}]

    with pytest.raises(EventDecodeError, match="v1 tags must be a JSON object"):
        decode(orjson.dumps(doc))


def test_a_v2_event_is_left_untouched() -> None:
    payload = {
        "experiment_id": "42",
        "name": "churn",
        "artifact_location": "s3://bucket/42",
        "tags": [{"key": "team", "value": "risk"}],
    }
    assert upcast("experiment.created", 2, payload) == (2, payload)

    envelope = new_event(ExperimentCreated.model_validate(payload), actor=SYSTEM_ACTOR, source="t")
    wire = encode(envelope)
    assert decode(wire) == envelope
    assert encode(decode(wire)) == wire


def test_upcast_does_not_modify_its_input() -> None:
    payload = {"experiment_id": "1", "name": "n", "artifact_location": "a", "tags": {"k": "v"}}

    version, upcast_payload = upcast("experiment.created", 1, payload)

    assert version == 2
    assert upcast_payload["tags"] == [{"key": "k", "value": "v"}]
    assert payload["tags"] == {"k": "v"}


def test_upcast_refuses_versions_from_the_future() -> None:
    with pytest.raises(UpcastError, match="newer than this build knows"):
        upcast("experiment.created", 3, {})


def test_every_version_step_has_an_upcaster() -> None:
    assert missing_upcasters() == []


def test_a_broken_upcaster_still_raises_event_decode_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(payload: PayloadDict) -> PayloadDict:
        raise KeyError("tags")

    monkeypatch.setitem(UPCASTERS, ("experiment.created", 1), broken)

    with pytest.raises(EventDecodeError, match=r"upcasting experiment\.created v1 failed"):
        decode(V1_EXPERIMENT_CREATED)


V1_METRICS_LOGGED = b"""{
  "event_id": "01901a2b-3c4d-7e5f-8a6b-7c8d9e0f1a2c",
  "type": "metrics.logged",
  "schema_version": 1,
  "aggregate": "r1",
  "occurred_at": "2023-11-14T22:13:20.000000Z",
  "actor": {"name": "ana", "kind": "self_reported"},
  "source": "sdk",
  "payload": {
    "run_id": "r1",
    "metrics": [
      {"key": "loss", "value": "NaN", "timestamp": 5, "step": 0, "model_id": null,
       "dataset_name": null, "dataset_digest": null},
      {"key": "acc", "value": 0.5, "timestamp": 6, "model_id": "m-1"}
    ]
  }
}"""


def test_a_v1_metrics_logged_decodes_to_columns() -> None:
    envelope = decode(V1_METRICS_LOGGED)

    payload = envelope.payload
    assert isinstance(payload, MetricsLogged)
    assert envelope.schema_version == 2
    assert (payload.keys, payload.timestamps, payload.steps) == (["loss", "acc"], [5, 6], [0, 0])
    assert math.isnan(payload.values[0]) and payload.values[1] == 0.5
    assert payload.model_ids == [None, "m-1"]
    assert payload.dataset_names is None and payload.dataset_digests is None


def test_a_v1_metrics_logged_with_a_malformed_point_is_refused() -> None:
    doc = orjson.loads(V1_METRICS_LOGGED)
    doc["payload"]["metrics"][1]["run_id"] = "r1"
    with pytest.raises(EventDecodeError, match="unknown field"):
        decode(orjson.dumps(doc))
    doc["payload"]["metrics"] = {"key": "loss"}
    with pytest.raises(EventDecodeError, match="must be a list of objects"):
        decode(orjson.dumps(doc))
    del doc["payload"]["metrics"]
    with pytest.raises(EventDecodeError, match="must be a list of objects"):
        decode(orjson.dumps(doc))
