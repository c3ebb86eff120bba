"""The registry's past, from the events as the audit log holds them: history and as-of state.

Both replay the fold from empty. An event the log recorded as rejected changes nothing (whatever
the fold would say now); one it recorded as accepted must be accepted again, or the replay stops
with ``ReplayDivergence``; one with no recorded verdict is decided by the fold.

A registered model keeps its identity through renames: the history of ``name`` is the history of
the model that bears that name at the end of the events (or, if none does, of the last model that
bore it), including what happened to it under earlier names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from schemas import (
    Actor,
    Envelope,
    ModelVersionCreated,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
)
from services.registry.decide import apply
from services.registry.errors import RegistryRejection
from services.registry.state import EMPTY, ModelVersion, RegisteredModel, RegistryState

VerdictLabel = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event as the audit log holds it: its global sequence number, the event, the verdict
    (None for an event not yet decided) and, when known, when it was recorded."""

    seq: int
    event: Envelope
    verdict: VerdictLabel | None = None
    error_code: str | None = None
    reason: str | None = None
    recorded_at: datetime | None = None


def recorded(events: Iterable[Envelope], first_seq: int = 1) -> list[RecordedEvent]:
    """Undecided records of ``events`` numbered from ``first_seq``: the fold decides them."""
    return [RecordedEvent(first_seq + i, event) for i, event in enumerate(events)]


class ReplayDivergence(Exception):
    """The fold rejects an event the log recorded as accepted: the log and the code disagree."""

    def __init__(self, seq: int, rejection: RegistryRejection) -> None:
        super().__init__(
            f"event seq={seq} was accepted when recorded but the fold rejects it: "
            f"{rejection.error_code}: {rejection.message}"
        )
        self.seq = seq
        self.rejection = rejection


class HistoryEntry(BaseModel):
    """One event in the life of a registered model or version, and its state around it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    event_id: UUID
    event_type: str
    occurred_at: datetime
    actor: Actor
    payload: dict[str, Any]
    verdict: VerdictLabel
    error_code: str | None = None
    reason: str | None = None
    outcome: dict[str, Any] | None = None
    before: RegisteredModel | ModelVersion | None = None
    after: RegisteredModel | ModelVersion | None = None


@dataclass(frozen=True, slots=True)
class _Step:
    record: RecordedEvent
    before: RegistryState
    after: RegistryState
    accepted: bool
    error_code: str | None
    reason: str | None
    outcome: dict[str, Any] | None


def _replay(events: Iterable[RecordedEvent]) -> Iterator[_Step]:
    state = EMPTY
    for record in events:
        if record.verdict == "rejected":
            yield _Step(record, state, state, False, record.error_code, record.reason, None)
            continue
        try:
            applied = apply(state, record.event)
        except RegistryRejection as rejection:
            if record.verdict == "accepted":
                raise ReplayDivergence(record.seq, rejection) from None
            yield _Step(record, state, state, False, rejection.error_code, rejection.message, None)
            continue
        yield _Step(record, state, applied.state, True, None, None, applied.outcome)
        state = applied.state


def _time_of(record: RecordedEvent) -> datetime:
    return record.recorded_at if record.recorded_at is not None else record.event.occurred_at


def as_of(
    events: Iterable[RecordedEvent],
    *,
    at_time: datetime | None = None,
    at_seq: int | None = None,
) -> RegistryState:
    """The state after the events up to ``at_seq`` (inclusive), or up to ``at_time``: the
    longest prefix of the log recorded (or, without a record time, occurring) at or before it.
    Exactly one of the two must be given."""
    if (at_time is None) == (at_seq is None):
        raise ValueError("give exactly one of at_time and at_seq")

    def within(record: RecordedEvent) -> bool:
        if at_seq is not None:
            return record.seq <= at_seq
        assert at_time is not None
        return _time_of(record) <= at_time

    def prefix() -> Iterator[RecordedEvent]:
        for record in events:
            if not within(record):
                return
            yield record

    state = EMPTY
    for step in _replay(prefix()):
        state = step.after
    return state


def history(
    events: Iterable[RecordedEvent], name: str, version: int | None = None
) -> list[HistoryEntry]:
    """Every event in the life of the registered model ``name`` (through its renames), or of its
    version ``version``, in order, accepted or rejected, with the state before and after."""
    identities: dict[str, int] = {}  # the name each live model bears -> its identity
    last_bearer: dict[str, int] = {}  # every name ever borne -> the last model that bore it
    touched: list[tuple[_Step, list[tuple[int, str | None, str | None]]]] = []
    created = 0
    for step in _replay(events):
        payload = step.record.event.payload
        # (identity, its name before, its name after) for each model this event concerns
        concerns: list[tuple[int, str | None, str | None]] = []
        name_before = getattr(payload, "name", None)
        if isinstance(payload, RegisteredModelCreated) and step.accepted:
            created += 1
            identities[payload.name] = last_bearer[payload.name] = created
            concerns.append((created, None, payload.name))
        elif isinstance(name_before, str) and name_before in identities:
            identity = identities[name_before]
            name_after: str | None = name_before
            if step.accepted and isinstance(payload, RegisteredModelRenamed):
                name_after = payload.new_name
                del identities[name_before]
                identities[name_after] = last_bearer[name_after] = identity
            elif step.accepted and isinstance(payload, RegisteredModelDeleted):
                name_after = None
                del identities[name_before]
            concerns.append((identity, name_before, name_after))
        if (
            isinstance(payload, RegisteredModelRenamed)
            and not step.accepted
            and payload.new_name in identities
            and payload.new_name != name_before
        ):
            # refused because another model holds the new name: part of that model's story too
            held = payload.new_name
            concerns.append((identities[held], held, held))
        if concerns:
            touched.append((step, concerns))

    target = identities.get(name, last_bearer.get(name))
    if target is None:
        return []
    entries = []
    for step, concerns in touched:
        for identity, before_name, after_name in concerns:
            if identity != target:
                continue
            before = step.before.models.get(before_name) if before_name else None
            after = step.after.models.get(after_name) if after_name else None
            if version is None:
                entries.append(_entry(step, before, after))
            elif _concerns_version(step, version, before, after):
                entries.append(
                    _entry(
                        step,
                        before.versions.get(version) if before else None,
                        after.versions.get(version) if after else None,
                    )
                )
    return entries


def _concerns_version(
    step: _Step, number: int, before: RegisteredModel | None, after: RegisteredModel | None
) -> bool:
    payload = step.record.event.payload
    if getattr(payload, "version", None) == number:
        return True
    if isinstance(payload, ModelVersionCreated):
        return step.accepted and (step.outcome or {}).get("version") == number
    was = before.versions.get(number) if before else None
    now = after.versions.get(number) if after else None
    return was != now


def _entry(
    step: _Step,
    before: RegisteredModel | ModelVersion | None,
    after: RegisteredModel | ModelVersion | None,
) -> HistoryEntry:
    record = step.record
    return HistoryEntry(
        seq=record.seq,
        event_id=record.event.event_id,
        event_type=record.event.type,
        occurred_at=record.event.occurred_at,
        actor=record.event.actor,
        payload=record.event.payload.model_dump(mode="json"),
        verdict="accepted" if step.accepted else "rejected",
        error_code=step.error_code,
        reason=step.reason,
        outcome=step.outcome,
        before=before,
        after=after,
    )


def decisions(events: Sequence[RecordedEvent]) -> list[tuple[int, VerdictLabel, str | None]]:
    """(seq, verdict, error code) of each event as the fold decides it now, ignoring the recorded
    verdicts: compared with the log's own, this checks that a replay decides as the first pass."""
    undecided = [RecordedEvent(r.seq, r.event) for r in events]
    return [
        (step.record.seq, "accepted" if step.accepted else "rejected", step.error_code)
        for step in _replay(undecided)
    ]
