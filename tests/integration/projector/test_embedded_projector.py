"""The embedded projector end to end: 10,000 events, a crash mid-stream, a restart."""

from __future__ import annotations

import asyncio

import asyncpg

from services.audit.verify import verify
from services.log.embedded import EmbeddedEventLog
from services.log.publisher import EventPublisher
from services.projector.worker import BatchApplier, ProjectorWorker
from tests.integration.projector.conftest import assert_chains_gapless, wait_for_audit_rows
from tests.samples import mixed_events

TOTAL = 10_000


def start_workers(pool: asyncpg.Pool, event_log: EmbeddedEventLog, stop: asyncio.Event):
    applier = BatchApplier(pool, event_log)
    layout = event_log.layout
    return [
        asyncio.create_task(ProjectorWorker(applier, topic, max_batch=200).run(stop))
        for topic in (layout.control, layout.data)
    ]


async def test_ten_thousand_events_survive_a_crash_exactly_once(
    pool: asyncpg.Pool, embedded_log: EmbeddedEventLog
) -> None:
    events = mixed_events(TOTAL)
    publisher = EventPublisher(embedded_log)
    for start in range(0, TOTAL // 2, 500):
        await publisher.publish(events[start : start + 500])

    stop = asyncio.Event()
    workers = start_workers(pool, embedded_log, stop)
    # Publish the second half while the projector runs, and crash it part-way.
    for start in range(TOTAL // 2, TOTAL, 500):
        await publisher.publish(events[start : start + 500])
    seen = await wait_for_audit_rows(pool, 3_000)
    for worker in workers:
        worker.cancel()  # abrupt: whatever batch is in flight is rolled back
    await asyncio.gather(*workers, return_exceptions=True)
    crashed_at = await pool.fetchval("SELECT count(*) FROM audit_log")
    assert seen <= crashed_at < TOTAL, "the crash must happen mid-stream"

    stop = asyncio.Event()
    workers = start_workers(pool, embedded_log, stop)
    await wait_for_audit_rows(pool, TOTAL)
    stop.set()
    await asyncio.gather(*workers)

    assert await pool.fetchval("SELECT count(*) FROM audit_log") == TOTAL
    await assert_chains_gapless(pool, TOTAL)
    ids = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM audit_log")}
    assert ids == {e.event_id for e in events}
    async with pool.acquire() as conn:
        report = await verify(conn)
    assert report.intact
    assert report.links == TOTAL
    assert {c.chain for c in report.chains} == {
        f"{embedded_log.layout.control}/0",
        *(f"{embedded_log.layout.data}/{p}" for p in range(embedded_log.layout.data_partitions)),
    }
