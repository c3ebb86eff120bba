"""Fixtures for registry tests: a migrated database, and events projected one at a time through
project_batch (audit log included), as the control partition delivers them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import asyncpg
import pytest

from schemas import Envelope, encode
from services.log.base import LogRecord
from services.projector.batch import BatchResult, project_batch
from services.projector.verdict import Verdict

CONTROL_TOPIC = "registry-tests.control"


async def _no_deadletters(letters: object) -> None:
    raise AssertionError(f"unexpected dead letters: {letters}")


class ControlLog:
    """Feeds events to project_batch as consecutive records of one control partition."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._offsets = itertools.count()

    async def project(self, events: Sequence[Envelope]) -> BatchResult:
        records = [
            LogRecord(CONTROL_TOPIC, 0, next(self._offsets), e.aggregate.encode(), encode(e), 0)
            for e in events
        ]
        async with self.pool.acquire() as conn:
            return await project_batch(
                conn, records, consumer="registry-tests", deadletter=_no_deadletters
            )

    async def one(self, event: Envelope) -> Verdict:
        result = await self.project([event])
        return result.verdicts[event.event_id]


@pytest.fixture
def control(pool: asyncpg.Pool) -> ControlLog:
    return ControlLog(pool)
