"""Which projection handles which event type; handlers update read models and decide verdicts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from schemas import Envelope
from services.projector.verdict import ACCEPTED, Verdict

Projection = Callable[[asyncpg.Connection, Envelope], Awaitable[Verdict | None]]

_HANDLERS: dict[str, Projection] = {}


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


async def apply(conn: asyncpg.Connection, event: Envelope) -> Verdict:
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return ACCEPTED  # recorded in the audit log; no read model shows this type yet
    return await handler(conn, event) or ACCEPTED


def handled_types() -> frozenset[str]:
    return frozenset(_HANDLERS)
