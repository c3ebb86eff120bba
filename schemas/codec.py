"""The wire format: envelopes to and from compact JSON bytes (orjson), upcasting old payloads.

Guarantees: `encode` is deterministic (fixed field order, nothing omitted, None as null), and
`encode(decode(b))` is stable: decoding and re-encoding the result of `encode` gives the same bytes.
Bytes of an older schema_version decode to the current version, so they re-encode as that.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from schemas.catalog import UnknownEventType, payload_class
from schemas.envelope import Envelope, format_time
from schemas.upcasters import UpcastError, upcast

__all__ = ["EventDecodeError", "canonical", "decode", "encode"]

_ENVELOPE_FIELDS = (
    "event_id",
    "type",
    "schema_version",
    "aggregate",
    "occurred_at",
    "actor",
    "source",
    "payload",
)


class EventDecodeError(ValueError):
    """Bytes that are not a valid event of a known type; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(envelope: Envelope) -> bytes:
    """The event as compact JSON, envelope fields in declaration order, payload last.

    Byte for byte what `envelope.model_dump_json()` gives; a unit test holds the two together.
    """
    head = orjson.dumps(
        {
            "event_id": str(envelope.event_id),
            "type": envelope.type,
            "schema_version": envelope.schema_version,
            "aggregate": envelope.aggregate,
            "occurred_at": format_time(envelope.occurred_at),
            "actor": {"name": envelope.actor.name, "kind": envelope.actor.kind},
            "source": envelope.source,
        }
    )
    # The payload is serialized by pydantic, not orjson: orjson writes NaN and infinities as null,
    # while the payload models write them as "NaN"/"Infinity"/"-Infinity" (MLflow's JSON).
    payload = envelope.payload.__pydantic_serializer__.to_json(envelope.payload)
    return b"".join((head[:-1], b',"payload":', payload, b"}"))


def canonical(envelope: Envelope) -> bytes:
    """`encode` with keys sorted at every level: the bytes the audit chain hashes."""
    return orjson.dumps(orjson.loads(encode(envelope)), option=orjson.OPT_SORT_KEYS)


def decode(data: bytes | bytearray | memoryview | str) -> Envelope:
    """Parse, upcast and validate one event. Every failure raises EventDecodeError."""
    try:
        raw = orjson.loads(data)
    except (ValueError, TypeError) as exc:
        raise EventDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise EventDecodeError(f"not a JSON object but {type(raw).__name__}")
    missing = [field for field in _ENVELOPE_FIELDS if field not in raw]
    if missing:
        raise EventDecodeError(f"missing envelope field(s): {', '.join(missing)}")

    type_str, version, payload = raw["type"], raw["schema_version"], raw["payload"]
    if not isinstance(type_str, str):
        raise EventDecodeError("type is not a string")
    if type(version) is not int:
        raise EventDecodeError("schema_version is not an integer")
    try:
        cls = payload_class(type_str)
    except UnknownEventType as exc:
        raise EventDecodeError(str(exc)) from exc
    if not isinstance(payload, dict):
        raise EventDecodeError(f"{type_str} payload is not a JSON object")

    try:
        version, payload = upcast(type_str, version, payload)
    except UpcastError as exc:
        raise EventDecodeError(str(exc)) from exc
    except Exception as exc:  # a broken upcaster must dead-letter the event, not kill a consumer
        raise EventDecodeError(f"upcasting {type_str} v{version} failed: {exc!r}") from exc

    try:
        body = cls.model_validate(payload)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid {type_str} payload: {_summary(exc)}") from exc
    try:
        return Envelope.model_validate({**raw, "schema_version": version, "payload": body})
    except ValidationError as exc:
        raise EventDecodeError(f"invalid envelope: {_summary(exc)}") from exc


def _summary(exc: ValidationError) -> str:
    """The first validation error as "loc: message", and how many more there were."""
    errors: list[Any] = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "(root)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
