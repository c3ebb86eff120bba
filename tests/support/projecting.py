"""Events through ``project_batch`` on one connection, for tests of what projection writes."""

from __future__ import annotations

import uuid

import asyncpg

from schemas import ExperimentCreated, Payload, RunCreated, encode, new_event
from services.log.base import LogRecord
from services.projector.batch import project_batch
from services.projector.verdict import Verdict
from tests.samples import TEST_ACTOR


async def no_deadletters(letters) -> None:
    raise AssertionError(f"unexpected dead letters: {letters}")


class Projecting:
    """Each call one batch at the next offsets of one partition."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.offset = 0

    async def verdicts(self, *payloads: Payload) -> list[Verdict]:
        records = []
        for payload in payloads:
            event = new_event(payload, actor=TEST_ACTOR, source="test")
            records.append(LogRecord("t.data", 0, self.offset, b"k", encode(event), 0))
            self.offset += 1
        result = await project_batch(self.conn, records, consumer="test", deadletter=no_deadletters)
        return list(result.verdicts.values())

    async def batch(self, *payloads: Payload) -> None:
        verdicts = await self.verdicts(*payloads)
        assert all(v.accepted for v in verdicts), verdicts

    async def run(self) -> str:
        """A new run in experiment 1 (created by the first batch of all)."""
        run_id = uuid.uuid4().hex
        if self.offset == 0:
            await self.batch(ExperimentCreated(experiment_id="1", name="e", artifact_location="/a"))
        await self.batch(
            RunCreated(
                run_id=run_id,
                experiment_id="1",
                user_id="u",
                run_name=run_id[:6],
                start_time=1,
                artifact_uri="/a",
            )
        )
        return run_id
