"""The SDK's background producer against a real broker: order, codecs, backpressure, errors."""

from __future__ import annotations

import asyncio
import sys
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.log.base import partition_for
from services.sdk import producer as producer_module
from services.sdk.producer import SWITCH_INTERVAL, BackgroundProducer, DeliveryError

PARTITIONS = 3


async def new_topic(bootstrap: str) -> str:
    topic = f"sdk-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    finally:
        await admin.close()
    return topic


async def read_back(bootstrap: str, topic: str, expect: int) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of every record, in each partition's order (bounded in time)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    got: list[tuple[int, bytes, bytes]] = []
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = asyncio.get_running_loop().time() + 30
        while len(got) < expect and asyncio.get_running_loop().time() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                got += [(tp.partition, r.key or b"", r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return got


def produce(bootstrap: str, topic: str, sent: list[tuple[bytes, bytes]], **options: object) -> None:
    producer = BackgroundProducer(bootstrap, linger_ms=5, **options)  # type: ignore[arg-type]
    try:
        for key, value in sent:
            producer.send(topic, key, value, PARTITIONS)
        producer.flush(timeout=60)
    finally:
        producer.close()


@pytest.mark.parametrize("compression", ["snappy", "lz4", "zstd", None])
async def test_every_record_arrives_in_order_per_key(
    kafka_bootstrap: str, compression: str | None
) -> None:
    topic = await new_topic(kafka_bootstrap)
    sent = [(f"run-{i % 5}".encode(), f"{i}:{'x' * (i % 300)}".encode()) for i in range(400)]
    # a window of 4 records: send() blocks on the slots while the queue drains in order
    await asyncio.to_thread(
        produce, kafka_bootstrap, topic, sent, compression=compression, max_in_flight=4
    )
    got = await read_back(kafka_bootstrap, topic, len(sent))
    assert len(got) == len(sent)
    for key in {k for k, _ in sent}:
        assert [v for _, k, v in got if k == key] == [v for k, v in sent if k == key]
        assert {p for p, k, _ in got if k == key} == {partition_for(key, PARTITIONS)}


async def test_backpressure_window_of_one(kafka_bootstrap: str) -> None:
    topic = await new_topic(kafka_bootstrap)
    sent = [(b"run", str(i).encode()) for i in range(50)]
    await asyncio.to_thread(produce, kafka_bootstrap, topic, sent, max_in_flight=1)
    got = await read_back(kafka_bootstrap, topic, len(sent))
    assert [v for _, _, v in got] == [v for _, v in sent]


async def test_an_undeliverable_record_fails_flush_and_the_rest_arrive(
    kafka_bootstrap: str,
) -> None:
    topic = await new_topic(kafka_bootstrap)
    too_big = b"x" * (9 * 1024 * 1024)  # over the producer's 8 MiB request limit

    def attempt() -> str:
        producer = BackgroundProducer(kafka_bootstrap, linger_ms=5)
        try:
            producer.send(topic, b"run", b"before", PARTITIONS)
            producer.send(topic, b"run", too_big, PARTITIONS)
            producer.send(topic, b"run", b"after", PARTITIONS)
            with pytest.raises(DeliveryError) as failure:
                producer.flush(timeout=60)
            producer.send(topic, b"run", b"later", PARTITIONS)  # the producer stays usable
            producer.flush(timeout=60)
            return str(failure.value)
        finally:
            producer.close()

    message = await asyncio.to_thread(attempt)
    assert "1 record(s) not delivered" in message
    got = await read_back(kafka_bootstrap, topic, 3)
    assert [v for _, _, v in got] == [b"before", b"after", b"later"]


async def test_the_switch_interval_is_lowered_while_a_producer_is_open(
    kafka_bootstrap: str,
) -> None:
    """Lowered while a producer is open (other producers of this process may be open too, so
    only the counting is checked around them); ``switch_interval=None`` takes no part."""

    def lifecycle() -> tuple[float, int, int, int]:
        users = producer_module._switch_interval._users
        producer = BackgroundProducer(kafka_bootstrap, linger_ms=5)
        try:
            lowered = sys.getswitchinterval()
            counted = producer_module._switch_interval._users
        finally:
            producer.close()
        untouched = BackgroundProducer(kafka_bootstrap, linger_ms=5, switch_interval=None)
        try:
            not_counted = producer_module._switch_interval._users
        finally:
            untouched.close()
        return (
            lowered,
            counted - users,
            not_counted - users,
            producer_module._switch_interval._users - users,
        )

    lowered, counted, not_counted, after = await asyncio.to_thread(lifecycle)
    assert lowered <= SWITCH_INTERVAL
    assert (counted, not_counted) == (1, 0)
    assert after == 0  # closing gave its place back


def test_the_last_producer_to_close_restores_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    shared = producer_module._SwitchInterval()
    try:
        sys.setswitchinterval(0.005)
        shared.acquire(SWITCH_INTERVAL)
        seen = [sys.getswitchinterval()]
        shared.acquire(SWITCH_INTERVAL)
        shared.release()
        seen.append(sys.getswitchinterval())
        shared.release()
        seen.append(sys.getswitchinterval())
    finally:
        sys.setswitchinterval(before)
    assert seen == [SWITCH_INTERVAL, SWITCH_INTERVAL, 0.005]
