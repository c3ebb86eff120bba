"""The wire format: exact bytes, non-finite floats, canonical form and decode errors."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from schemas import (
    SYSTEM_ACTOR,
    Envelope,
    EventDecodeError,
    MetricPoint,
    MetricsLogged,
    RunCreated,
    RunUpdated,
    Tag,
    canonical,
    decode,
    encode,
    new_event,
)

RUN = "0123456789abcdef0123456789abcdef"


def run_created() -> Envelope:
    return new_event(
        RunCreated(
            run_id=RUN,
            experiment_id="1",
            user_id="ana",
            run_name="r",
            start_time=1,
            artifact_uri="file:///a",
            tags=[Tag(key="k", value="v")],
        ),
        actor=SYSTEM_ACTOR,
        source="test",
        occurred_at=datetime(2024, 3, 3, 10, 0, tzinfo=timezone(timedelta(hours=2))),
    )


def metrics(*values: float) -> Envelope:
    points = [MetricPoint(key="loss", value=v, timestamp=1, step=i) for i, v in enumerate(values)]
    return new_event(MetricsLogged.of(run_id=RUN, points=points), actor=SYSTEM_ACTOR, source="test")


def wire_dict(envelope: Envelope) -> dict[str, Any]:
    loaded = orjson.loads(encode(envelope))
    assert isinstance(loaded, dict)
    return loaded


def test_encode_is_compact_json_in_envelope_order_with_utc_microseconds() -> None:
    envelope = run_created()

    wire = encode(envelope)

    assert wire == orjson.dumps(orjson.loads(wire))
    assert list(orjson.loads(wire)) == [
        "event_id",
        "type",
        "schema_version",
        "aggregate",
        "occurred_at",
        "actor",
        "source",
        "payload",
    ]
    assert b'"occurred_at":"2024-03-03T08:00:00.000000Z"' in wire
    assert b'"actor":{"name":"ledgerflow","kind":"system"}' in wire
    assert wire.startswith(b'{"event_id":"' + str(envelope.event_id).encode() + b'"')


def test_none_fields_are_written_as_null_not_omitted() -> None:
    envelope = new_event(RunUpdated(run_id=RUN, status="KILLED"), actor=SYSTEM_ACTOR, source="t")

    assert wire_dict(envelope)["payload"] == {
        "run_id": RUN,
        "status": "KILLED",
        "end_time": None,
        "run_name": None,
    }


def test_non_finite_metric_values_travel_as_mlflow_strings() -> None:
    envelope = metrics(math.nan, math.inf, -math.inf, 2.5)

    wire = encode(envelope)

    values = wire_dict(envelope)["payload"]["values"]
    assert values == ["NaN", "Infinity", "-Infinity", 2.5]
    decoded = decode(wire)
    assert isinstance(decoded.payload, MetricsLogged)
    got = decoded.payload.values
    assert math.isnan(got[0])
    assert got[1:] == [math.inf, -math.inf, 2.5]
    assert encode(decoded) == wire
    assert b'"values":["NaN","Infinity","-Infinity",2.5]' in canonical(envelope)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "nan", "inf"])
def test_decode_accepts_non_finite_strings_from_other_producers(text: str) -> None:
    doc = wire_dict(metrics(1.0))
    doc["payload"]["values"][0] = text

    decoded = decode(orjson.dumps(doc))

    assert isinstance(decoded.payload, MetricsLogged)
    assert not math.isfinite(decoded.payload.values[0])


def test_canonical_sorts_keys_at_every_level_and_is_deterministic() -> None:
    envelope = run_created()

    first, second = canonical(envelope), canonical(envelope)

    assert first == second
    assert first == orjson.dumps(orjson.loads(encode(envelope)), option=orjson.OPT_SORT_KEYS)
    assert first.index(b'"actor"') < first.index(b'"event_id"') < first.index(b'"type"')
    assert first.index(b'"artifact_uri"') < first.index(b'"run_id"')


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


@pytest.mark.parametrize("build", [run_created, lambda: metrics(math.nan, 1.0)])
def test_canonical_does_not_depend_on_field_order_in_the_input(build: Any) -> None:
    envelope = build()
    wire = encode(envelope)
    shuffled = orjson.dumps(_reversed_keys(orjson.loads(wire)))
    assert shuffled != wire

    assert canonical(decode(shuffled)) == canonical(decode(wire)) == canonical(envelope)
    assert encode(decode(shuffled)) == wire


def test_new_event_fills_the_envelope_from_the_payload() -> None:
    payload = RunUpdated(run_id=RUN)
    before = datetime.now(UTC)

    envelope = new_event(payload, actor=SYSTEM_ACTOR, source="sdk")
    another = new_event(payload, actor=SYSTEM_ACTOR, source="sdk")
    elsewhere = new_event(payload, actor=SYSTEM_ACTOR, source="sdk", aggregate="x")

    assert envelope.event_id.version == 7
    assert envelope.event_id < another.event_id
    assert (envelope.type, envelope.schema_version, envelope.aggregate) == ("run.updated", 1, RUN)
    assert envelope.occurred_at.tzinfo == UTC
    assert before <= envelope.occurred_at <= datetime.now(UTC)
    assert elsewhere.aggregate == "x"


def test_envelope_refuses_a_naive_time_a_non_v7_id_and_a_mismatched_type() -> None:
    payload = RunUpdated(run_id=RUN)
    with pytest.raises(ValueError, match="timezone"):
        new_event(payload, actor=SYSTEM_ACTOR, source="t", occurred_at=datetime(2024, 1, 1))
    good = new_event(payload, actor=SYSTEM_ACTOR, source="t")
    fields = {name: getattr(good, name) for name in type(good).model_fields}
    with pytest.raises(ValueError, match="version 7"):
        Envelope(**{**fields, "event_id": uuid.uuid4()})
    with pytest.raises(ValueError, match=r"run\.updated v2"):
        Envelope(**{**fields, "schema_version": 2})
    with pytest.raises(ValueError, match=r"use schemas\.decode\(\)"):
        Envelope(**{**fields, "payload": {"run_id": RUN}})


def _valid_doc() -> dict[str, Any]:
    return wire_dict(run_created())


def _without(field: str) -> bytes:
    doc = _valid_doc()
    del doc[field]
    return orjson.dumps(doc)


def _with(field: str, value: Any) -> bytes:
    return orjson.dumps({**_valid_doc(), field: value})


def _with_payload(field: str, value: Any) -> bytes:
    doc = _valid_doc()
    doc["payload"][field] = value
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\xffnot json", "not JSON"),
        (b"", "not JSON"),
        (b'{"event_id": ', "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'"run.created"', "not a JSON object"),
        (_without("payload"), "missing envelope field(s): payload"),
        (_without("event_id"), "missing envelope field(s): event_id"),
        (b"{}", "missing envelope field(s): event_id, type, schema_version"),
        (_with("type", "run.exploded"), "unknown event type 'run.exploded'"),
        (_with("type", 7), "type is not a string"),
        (_with("schema_version", "1"), "schema_version is not an integer"),
        (_with("schema_version", True), "schema_version is not an integer"),
        (_with("schema_version", 2), "run.created v2 is newer than this build knows (v1)"),
        (_with("schema_version", 0), "not a valid schema version"),
        (_with("payload", [1]), "run.created payload is not a JSON object"),
        (_with_payload("start_time", "yesterday"), "invalid run.created payload: start_time"),
        (_with_payload("tags", {"k": "v"}), "invalid run.created payload: tags"),
        (_with_payload("user_id", None), "invalid run.created payload: user_id"),
        (_with_payload("colour", "red"), "invalid run.created payload: colour"),
        (_with("event_id", "not-a-uuid"), "invalid envelope: event_id"),
        (_with("event_id", str(uuid.uuid4())), "invalid envelope: event_id"),
        (_with("occurred_at", "2024-03-03T10:00:00"), "invalid envelope: occurred_at"),
        (_with("actor", {"name": "x", "kind": "root"}), "invalid envelope: actor.kind"),
        (_with("extra", 1), "invalid envelope: extra"),
    ],
)
def test_decode_failures_raise_event_decode_error_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode(data)

    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_decode_refuses_a_metrics_batch_over_the_cap() -> None:
    doc = wire_dict(metrics(1.0))
    for column in ("keys", "values", "timestamps", "steps"):
        doc["payload"][column] = doc["payload"][column] * 1001

    with pytest.raises(EventDecodeError, match=r"keys: List should have at most 1000 items"):
        decode(orjson.dumps(doc))


def test_decode_reason_counts_further_errors() -> None:
    doc = wire_dict(metrics(1.0, 2.0, 3.0))
    doc["payload"]["values"] = ["lots"] * 3

    with pytest.raises(EventDecodeError, match=r"values\.0: .* \(and 2 more\)"):
        decode(orjson.dumps(doc))


def test_decode_accepts_bytearray_memoryview_and_str() -> None:
    wire = encode(run_created())

    for data in (bytearray(wire), memoryview(wire), wire.decode()):
        assert encode(decode(data)) == wire


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice("aZ0._-/ é\x00") for _ in range(rng.randrange(8)))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value, nesting at most three levels."""
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.0, -0.5, 1e308, rng.uniform(-1e6, 1e6)])
    if kind == 4:
        return random_text(rng)
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {random_text(rng): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


# Seeded, so that a failure reproduces; a few thousand decodes take well under a second.
def test_decode_of_corrupted_bytes_raises_only_event_decode_error() -> None:
    rng = random.Random(20240303)
    wire = encode(run_created())
    for _ in range(2000):
        cut, resume = rng.randrange(len(wire)), rng.randrange(len(wire))
        data = wire[:cut] + rng.randbytes(rng.randrange(8)) + wire[resume:]
        try:
            decode(data)
        except EventDecodeError as exc:
            assert exc.reason


@pytest.mark.parametrize(
    "path",
    [
        *[(field,) for field in ("event_id", "type", "schema_version", "occurred_at")],
        *[(field,) for field in ("aggregate", "actor", "source", "payload")],
        *[("payload", field) for field in ("run_id", "user_id", "start_time", "tags", "extra")],
    ],
)
def test_decode_of_a_mangled_event_raises_only_event_decode_error(path: tuple[str, ...]) -> None:
    rng = random.Random("/".join(path))
    for _ in range(200):
        doc = wire_dict(run_created())
        parent = doc["payload"] if len(path) == 2 else doc
        parent[path[-1]] = random_json(rng)
        try:
            envelope = decode(orjson.dumps(doc))
        except EventDecodeError as exc:
            assert exc.reason
        else:
            assert isinstance(envelope.payload, RunCreated)
