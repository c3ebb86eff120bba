"""Which projection handles which event type; handlers update read models and decide verdicts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg

from schemas import Envelope
from services.projector.verdict import ACCEPTED, Verdict

Projection = Callable[[asyncpg.Connection, Envelope], Awaitable[Verdict | None]]
BatchProjection = Callable[[asyncpg.Connection, Sequence[Envelope]], Awaitable[list[Verdict]]]

_HANDLERS: dict[str, Projection] = {}
_BATCH_HANDLERS: dict[str, BatchProjection] = {}


def projects(*event_types: str) -> Callable[[Projection], Projection]:
    """Register a projection for event types. A handler returns a Verdict, or None for accepted,
    or raises Rejection; each event runs in its own savepoint."""

    def register(handler: Projection) -> Projection:
        for event_type in event_types:
            if event_type in _HANDLERS:
                raise RuntimeError(f"two projections for {event_type}")
            _HANDLERS[event_type] = handler
        return handler

    return register


def projects_batches(event_type: str) -> Callable[[BatchProjection], BatchProjection]:
    """Register a set-based projection: it gets every event of its type in a batch at once
    (in log order) and returns one verdict per event. For high-volume types whose events do not
    depend on the other events of their partition (metric points); it must not fail part-way,
    since no savepoint separates its events."""

    def register(handler: BatchProjection) -> BatchProjection:
        if event_type in _BATCH_HANDLERS or event_type in _HANDLERS:
            raise RuntimeError(f"two projections for {event_type}")
        _BATCH_HANDLERS[event_type] = handler
        return handler

    return register


def batch_handler(event_type: str) -> BatchProjection | None:
    return _BATCH_HANDLERS.get(event_type)


async def apply(conn: asyncpg.Connection, event: Envelope) -> Verdict:
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return ACCEPTED  # recorded in the audit log; no read model shows this type yet
    return await handler(conn, event) or ACCEPTED


def handled_types() -> frozenset[str]:
    return frozenset(_HANDLERS) | frozenset(_BATCH_HANDLERS)
