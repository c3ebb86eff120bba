"""Event builders for registry tests: envelopes at chosen times, by chosen actors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import Actor, Envelope, Payload, new_event

T0 = datetime(2024, 3, 3, 9, 0, tzinfo=UTC)
T0_MS = 1_709_456_400_000
ALICE = Actor(name="alice", kind="authenticated")
BOB = Actor(name="bob", kind="self_reported")
NOBODY = Actor(name="anonymous", kind="anonymous")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ms(seconds: float) -> int:
    return T0_MS + round(seconds * 1000)


def event(payload: Payload, seconds: float = 0, actor: Actor = ALICE) -> Envelope:
    return new_event(payload, actor=actor, source="test", occurred_at=at(seconds))
