"""`audit verify --against-log` with Kafka as the log: every link's coordinates hold its event."""

from __future__ import annotations

import asyncpg
import pytest

from services.audit.coordinates import check_coordinates
from services.log.base import TopicLayout
from services.log.kafka import KafkaEventLog
from services.log.publisher import EventPublisher
from services.projector.worker import BatchApplier
from services.settings import KafkaSettings
from tests.samples import mixed_events

TOTAL = 300


@pytest.mark.kafka
async def test_links_are_checked_against_kafka(
    pool: asyncpg.Pool, kafka_settings: KafkaSettings, layout: TopicLayout
) -> None:
    event_log = KafkaEventLog(kafka_settings, layout)
    await event_log.start()
    try:
        await EventPublisher(event_log).publish(mixed_events(TOTAL, seed=9))
        applier = BatchApplier(pool, event_log)
        for topic in (layout.control, layout.data):
            ends = await event_log.end_offsets(topic)
            reader = event_log.reader({tp: 0 for tp in layout.all_partitions(topic)})
            try:
                applied = 0
                while applied < sum(ends.values()):
                    records = await reader.next_batch(500, 5.0)
                    assert records, f"{topic}: the log ended at {applied} of {sum(ends.values())}"
                    applied += (await applier.apply(records)).applied
            finally:
                await reader.close()
        assert await pool.fetchval("SELECT count(*) FROM audit_log") == TOTAL

        async with pool.acquire() as conn:
            assert await check_coordinates(conn, event_log) == []

        # point one link at its neighbour's record: the chain is untouched, the log disagrees
        target = await pool.fetchrow(
            "SELECT seq, topic, partition, log_offset, chain_seq FROM audit_log "
            "WHERE topic = $1 ORDER BY partition, log_offset LIMIT 1 OFFSET 3",
            layout.data,
        )
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await conn.execute(
                "UPDATE audit_log SET log_offset = log_offset + 1 WHERE seq = $1", target["seq"]
            )
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        async with pool.acquire() as conn:
            problems = await check_coordinates(conn, event_log)
        assert [(p.chain, p.chain_seq) for p in problems] == [
            (f"{layout.data}/{target['partition']}", target["chain_seq"])
        ]
        assert "not the event this link recorded" in problems[0].problem
    finally:
        await event_log.close()
