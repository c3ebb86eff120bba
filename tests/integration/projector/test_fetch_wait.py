"""The projector consumer's fetch wait, on the real broker: long while a fetch holds every
partition (it returns as soon as a record arrives anyway), short while one is left out because
its records wait to be consumed (services/projector/transport.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiokafka
import pytest

from services.projector.transport import adapt_fetch_wait
from tests.integration.projector.conftest import wait_until

BUSY_MS = 40
IDLE_MS = 20_000  # far longer than the test: a fetch that sat out its wait would fail it


async def _until(condition: Callable[[], bool], what: str) -> None:
    async def check() -> bool | None:
        return True if condition() else None

    await wait_until(check, timeout=10.0, what=what)


async def _values(consumer: aiokafka.AIOKafkaConsumer) -> list[bytes | None]:
    """The next records' values, drained as faust drains them (getmany: a drained partition
    leaves the fetcher's buffer at once, while getone leaves it there until the next call)."""
    batches = await asyncio.wait_for(consumer.getmany(timeout_ms=10_000), timeout=15.0)
    return [record.value for records in batches.values() for record in records]


@pytest.mark.kafka
async def test_the_fetch_waits_long_only_while_it_holds_every_partition(
    kafka_bootstrap: str,
) -> None:
    topic = f"fetch-wait-{time.monotonic_ns()}"
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    consumer = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        await producer.send_and_wait(topic, b"first")  # creates the topic
        await consumer.start()
        consumer.assign([aiokafka.TopicPartition(topic, 0)])
        adapt_fetch_wait(consumer._fetcher, BUSY_MS, IDLE_MS)
        fetcher = consumer._fetcher

        # "first" is fetched and waits in the fetcher, unconsumed: its partition is left out
        await _until(lambda: bool(fetcher._records), "the first record fetched")
        await _until(lambda: fetcher._fetch_max_wait_ms == BUSY_MS, "the busy wait")
        assert await _values(consumer) == [b"first"]

        # nothing buffered: the next fetch holds the partition and may wait long
        await _until(lambda: fetcher._fetch_max_wait_ms == IDLE_MS, "the idle wait")
        sent = time.monotonic()
        await producer.send_and_wait(topic, b"second")
        assert await _values(consumer) == [b"second"]
        # the parked fetch returned with the record, long before its wait was out
        assert time.monotonic() - sent < IDLE_MS / 1000 / 2
    finally:
        await consumer.stop()
        await producer.stop()
