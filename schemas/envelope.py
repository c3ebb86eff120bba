"""The event envelope: who did what to which aggregate and when, around a typed payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    UUID7,
    AwareDatetime,
    BaseModel,
    SerializeAsAny,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from uuid6 import uuid7

from schemas.payload import Payload, Stream

__all__ = ["SYSTEM_ACTOR", "Actor", "ActorKind", "Envelope", "Stream", "format_time", "new_event"]

ActorKind = Literal["authenticated", "self_reported", "system", "anonymous"]
"""How far the actor's name can be trusted: a verified principal, a client's claim, ourselves."""


class Actor(BaseModel, frozen=True, extra="forbid"):
    """The principal an event is attributed to."""

    name: str
    kind: ActorKind


SYSTEM_ACTOR = Actor(name="ledgerflow", kind="system")
"""Events ledgerflow emits on its own behalf (retention, promotion decisions)."""


def format_time(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds and "Z", e.g. 2024-03-03T09:15:00.000000Z."""
    naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
    return naive_utc.isoformat(timespec="microseconds") + "Z"


_PAYLOAD_JSON_SCHEMA = {
    "type": "object",
    "description": "The typed payload; its schema is events/<type>.v<schema_version>.json.",
}


class Envelope(BaseModel, frozen=True, extra="forbid", use_attribute_docstrings=True):
    """One event as it travels on the log. Read wire bytes with `schemas.decode`."""

    event_id: UUID7
    """A UUIDv7 (time-ordered), set once by the producer; a retried publish keeps it."""
    type: str
    """The stable event type string, e.g. "run.created"."""
    schema_version: int
    """The payload's shape version; older ones are upcast on decode."""
    aggregate: str
    """Experiment id, run id, logged-model id or registered model name."""
    occurred_at: AwareDatetime
    """When it happened, in UTC; on the wire ISO-8601 with microseconds and "Z"."""
    actor: Actor
    source: str
    """Where the event entered the system, e.g. "gateway", "sdk", "cli", "test"."""
    payload: Annotated[SerializeAsAny[Payload], WithJsonSchema(_PAYLOAD_JSON_SCHEMA)]

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_serializer("occurred_at", when_used="json")
    def _wire_time(self, value: datetime) -> str:
        return format_time(value)

    @field_validator("payload", mode="before")
    @classmethod
    def _typed_payload(cls, value: Any) -> Any:
        # A plain dict cannot be validated here: its class depends on `type` and its version may
        # need upcasting, which is the codec's job.
        if not isinstance(value, Payload):
            raise ValueError("payload must be a Payload instance; use schemas.decode() for bytes")
        return value

    @model_validator(mode="after")
    def _matches_payload(self) -> Envelope:
        expected = (self.payload.TYPE, self.payload.SCHEMA_VERSION)
        if (self.type, self.schema_version) != expected:
            raise ValueError(
                f"envelope says {self.type} v{self.schema_version} but the payload is "
                f"{expected[0]} v{expected[1]}"
            )
        return self


def new_event(
    payload: Payload,
    *,
    actor: Actor,
    source: str,
    aggregate: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Wrap a payload in a fresh envelope: a new UUIDv7, the payload's type and version, now."""
    return Envelope(
        event_id=UUID(bytes=uuid7().bytes),
        type=payload.TYPE,
        schema_version=payload.SCHEMA_VERSION,
        aggregate=payload.aggregate_id() if aggregate is None else aggregate,
        occurred_at=datetime.now(UTC) if occurred_at is None else occurred_at,
        actor=actor,
        source=source,
        payload=payload,
    )
