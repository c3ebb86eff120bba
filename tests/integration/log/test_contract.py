"""One contract for every event log backend: the embedded table and Kafka pass the same suite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.log.base import EventLog, TopicLayout, TopicPartition, partition_for
from services.log.embedded import EmbeddedEventLog
from services.log.kafka import KafkaEventLog
from services.settings import KafkaSettings
from services.store.migrate import upgrade
from services.store.pool import create_pool


async def read_all(event_log: EventLog, topic: str, start: int = 0, expect: int = 0):
    """Read every partition of ``topic`` until ``expect`` records arrived (bounded in time)."""
    reader = event_log.reader({tp: start for tp in event_log.layout.all_partitions(topic)})
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            records += await reader.next_batch(1000, 1.0)
    finally:
        await reader.close()
    return records


class EventLogContract:
    """Subclasses provide the ``event_log`` fixture (started, with this test's own topics)."""

    async def test_append_returns_positions_in_order(self, event_log: EventLog) -> None:
        topic = event_log.layout.data
        records = [(f"run-{i % 5}".encode(), f"v{i}".encode()) for i in range(50)]
        positions = await event_log.append(topic, records)
        assert len(positions) == 50
        for (key, _), position in zip(records, positions, strict=True):
            assert position.topic == topic
            assert position.partition == partition_for(key, event_log.layout.data_partitions)
        by_partition: dict[int, list[int]] = {}
        for position in positions:
            by_partition.setdefault(position.partition, []).append(position.offset)
        for offsets in by_partition.values():
            assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))

    async def test_read_back_everything_in_partition_order(self, event_log: EventLog) -> None:
        topic = event_log.layout.data
        sent = [(f"run-{i % 7}".encode(), f"value-{i}".encode()) for i in range(200)]
        await event_log.append(topic, sent)
        records = await read_all(event_log, topic, expect=200)
        assert len(records) == 200
        assert sorted(r.value for r in records) == sorted(v for _, v in sent)
        for key in {k for k, _ in sent}:
            got = [r.value for r in records if r.key == key]
            assert got == [v for k, v in sent if k == key], "one key's records keep their order"
        for partition in {r.partition for r in records}:
            offsets = [r.offset for r in records if r.partition == partition]
            assert offsets == sorted(offsets)

    async def test_reader_starts_at_given_offset(self, event_log: EventLog) -> None:
        topic = event_log.layout.control
        await event_log.append(topic, [(b"x", f"{i}".encode()) for i in range(10)])
        records = await read_all(event_log, topic, start=6, expect=4)
        assert [r.value for r in records] == [b"6", b"7", b"8", b"9"]
        assert [r.offset for r in records] == [6, 7, 8, 9]

    async def test_end_offsets_follow_appends(self, event_log: EventLog) -> None:
        topic = event_log.layout.control
        assert (await event_log.end_offsets(topic)) == {0: 0}
        await event_log.append(topic, [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
        assert (await event_log.end_offsets(topic)) == {0: 3}

    async def test_reader_is_woken_by_a_later_append(self, event_log: EventLog) -> None:
        topic = event_log.layout.control
        reader = event_log.reader({TopicPartition(topic, 0): 0})
        try:
            waiting = asyncio.create_task(reader.next_batch(10, 20.0))
            await asyncio.sleep(0.3)  # let the reader reach its wait before the append
            assert not waiting.done()
            await event_log.append(topic, [(b"k", b"late")])
            records = await asyncio.wait_for(waiting, 20.0)
            assert [r.value for r in records] == [b"late"]
        finally:
            await reader.close()

    async def test_empty_read_returns_after_timeout(self, event_log: EventLog) -> None:
        reader = event_log.reader({TopicPartition(event_log.layout.control, 0): 0})
        try:
            assert await asyncio.wait_for(reader.next_batch(10, 0.3), 10) == []
        finally:
            await reader.close()

    async def test_max_records_is_respected(self, event_log: EventLog) -> None:
        topic = event_log.layout.control
        await event_log.append(topic, [(b"k", f"{i}".encode()) for i in range(30)])
        reader = event_log.reader({TopicPartition(topic, 0): 0})
        try:
            seen = []
            deadline = asyncio.get_running_loop().time() + 30
            while len(seen) < 30 and asyncio.get_running_loop().time() < deadline:
                batch = await reader.next_batch(7, 1.0)
                assert len(batch) <= 7
                seen += batch
            assert [r.offset for r in seen] == list(range(30))
        finally:
            await reader.close()

    async def test_concurrent_appenders_lose_nothing(self, event_log: EventLog) -> None:
        topic = event_log.layout.data

        async def writer(n: int) -> None:
            for batch in range(5):
                await event_log.append(
                    topic, [(f"w{n}".encode(), f"{n}:{batch}:{i}".encode()) for i in range(20)]
                )

        await asyncio.gather(*(writer(n) for n in range(8)))
        records = await read_all(event_log, topic, expect=800)
        assert len(records) == 800
        assert len({(r.partition, r.offset) for r in records}) == 800
        for n in range(8):
            mine = [r.value.decode() for r in records if r.key == f"w{n}".encode()]
            assert mine == [f"{n}:{b}:{i}" for b in range(5) for i in range(20)]

    async def test_records_survive_reopening(self, event_log: EventLog, reopen) -> None:
        topic = event_log.layout.control
        await event_log.append(topic, [(b"k", b"durable")])
        again = await reopen()
        records = await read_all(again, topic, expect=1)
        assert [r.value for r in records] == [b"durable"]

    async def test_unknown_topic_is_refused(self, event_log: EventLog) -> None:
        with pytest.raises(KeyError):
            await event_log.append("no.such.topic", [(b"k", b"v")])


class TestEmbeddedEventLog(EventLogContract):
    @pytest.fixture
    async def pool(self, db_dsn: str):
        pool = await create_pool(db_dsn)
        async with pool.acquire() as conn:
            await upgrade(conn)
        yield pool
        await pool.close()

    @pytest.fixture
    async def event_log(self, pool, db_dsn: str, layout: TopicLayout) -> AsyncIterator[EventLog]:
        event_log = EmbeddedEventLog(pool, db_dsn, layout)
        await event_log.start()
        yield event_log
        await event_log.close()

    @pytest.fixture
    async def reopen(self, pool, db_dsn: str, layout: TopicLayout):
        opened = []

        async def open_again() -> EventLog:
            event_log = EmbeddedEventLog(pool, db_dsn, layout)
            await event_log.start()
            opened.append(event_log)
            return event_log

        yield open_again
        for event_log in opened:
            await event_log.close()


class TestKafkaEventLog(EventLogContract):
    @pytest.fixture
    async def event_log(
        self, kafka_settings: KafkaSettings, layout: TopicLayout
    ) -> AsyncIterator[EventLog]:
        event_log = KafkaEventLog(kafka_settings, layout)
        await event_log.start()
        yield event_log
        await event_log.close()

    @pytest.fixture
    async def reopen(self, kafka_settings: KafkaSettings, layout: TopicLayout):
        opened = []

        async def open_again() -> EventLog:
            event_log = KafkaEventLog(kafka_settings, layout)
            await event_log.start()
            opened.append(event_log)
            return event_log

        yield open_again
        for event_log in opened:
            await event_log.close()

    async def test_topics_have_infinite_retention_and_explicit_configs(
        self, event_log: KafkaEventLog, kafka_settings: KafkaSettings
    ) -> None:
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.bootstrap_servers)
        await admin.start()
        try:
            layout = event_log.layout
            described = await admin.describe_topics(list(layout.topics()))
            partitions = {t["topic"]: len(t["partitions"]) for t in described}
            assert partitions == {layout.control: 1, layout.data: 4, layout.deadletter: 1}
            configs = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, layout.control)]
            )
            entries = {
                entry[0]: entry[1]
                for response in configs
                for resource in response.resources
                for entry in resource[4]
            }
            assert entries["retention.ms"] == "-1"
            assert entries["retention.bytes"] == "-1"
            assert entries["cleanup.policy"] == "delete"
        finally:
            await admin.close()
