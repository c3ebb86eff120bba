"""A projector worker: reads batches from the event log and applies them, retrying until done.

The embedded mode runs one worker per topic in the server process; the cluster mode feeds the same
``BatchApplier`` from faust agents (services/projector/app.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg
from tenacity import AsyncRetrying, before_sleep_log, wait_exponential

from services.log.base import EventLog, LogRecord
from services.projector import positions
from services.projector.batch import BatchResult, DeadLetter, project_batch

log = logging.getLogger(__name__)

CONSUMER = "projector"


class BatchApplier:
    """Applies one batch in one transaction; on failure retries the same batch, never skips."""

    def __init__(self, pool: asyncpg.Pool, event_log: EventLog, consumer: str = CONSUMER) -> None:
        self.pool = pool
        self.event_log = event_log
        self.consumer = consumer

    async def _deadletter(self, letters: Sequence[DeadLetter]) -> None:
        await self.event_log.append(
            self.event_log.layout.deadletter, [(None, letter.encode()) for letter in letters]
        )

    async def apply(self, records: Sequence[LogRecord]) -> BatchResult:
        async for attempt in AsyncRetrying(
            wait=wait_exponential(multiplier=0.05, max=5.0),
            before_sleep=before_sleep_log(log, logging.WARNING, exc_info=True),
            reraise=True,
        ):
            with attempt:
                async with self.pool.acquire() as conn:
                    return await project_batch(
                        conn, records, consumer=self.consumer, deadletter=self._deadletter
                    )
        raise AssertionError("unreachable")  # pragma: no cover


class ProjectorWorker:
    """Tails one topic's partitions from the stored positions and applies batches."""

    def __init__(
        self,
        applier: BatchApplier,
        topic: str,
        *,
        partitions: Sequence[int] | None = None,
        max_batch: int = 500,
        poll_timeout: float = 1.0,
    ) -> None:
        self.applier = applier
        self.topic = topic
        self.partitions = partitions
        self.max_batch = max_batch
        self.poll_timeout = poll_timeout

    async def run(self, stop: asyncio.Event) -> None:
        event_log = self.applier.event_log
        stored = await positions.load(self.applier.pool, self.applier.consumer)
        assignment = {tp: stored.get(tp, 0) for tp in event_log.layout.all_partitions(self.topic)}
        reader = event_log.reader(assignment)
        try:
            while not stop.is_set():
                records: list[LogRecord] = await reader.next_batch(
                    self.max_batch, self.poll_timeout
                )
                if records:
                    await self.applier.apply(records)
        finally:
            await reader.close()
