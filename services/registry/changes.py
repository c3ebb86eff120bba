"""The seam for notifications (webhooks are out of scope for now): a feed of the registry's
accepted changes, in the order they were applied, for whatever wants to react to them.

It follows the projector's verdict notifications and reads each accepted registry event back from
the audit log, so a subscriber sees exactly what the registry's history holds, with its seq, actor
and outcome. A webhook dispatcher would be::

    async for change in registry_changes(dsn, after_seq=last_delivered):
        await deliver(change)          # and remember change.seq

Resuming from `after_seq` makes delivery at-least-once across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from services.projector.batch import VERDICT_CHANNEL
from services.registry.history import RecordedEvent
from services.store.registry import registry_events


async def registry_changes(
    dsn: str, *, after_seq: int = 0, poll_seconds: float = 5.0
) -> AsyncIterator[RecordedEvent]:
    """Accepted registry events after ``after_seq``, then each new one as it is applied."""
    listener = await asyncpg.connect(dsn)
    reader = await asyncpg.connect(dsn, server_settings={"search_path": "ledgerflow,public"})
    wake = asyncio.Event()
    await listener.add_listener(VERDICT_CHANNEL, lambda *_: wake.set())
    try:
        while True:
            wake.clear()
            for record in await registry_events(reader, after_seq=after_seq):
                after_seq = record.seq
                if record.verdict == "accepted":
                    yield record
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll_seconds)
    finally:
        await listener.close()
        await reader.close()
