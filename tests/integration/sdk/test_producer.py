"""The SDK's background producer against a real broker: order, codecs, backpressure, errors."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.log.base import partition_for
from services.sdk.producer import DeliveryError, EventProducer, ProducerSettings

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


def produce(
    bootstrap: str, topic: str, sent: list[tuple[bytes, bytes]], settings: ProducerSettings
) -> None:
    producer = EventProducer(bootstrap, settings)
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
        produce,
        kafka_bootstrap,
        topic,
        sent,
        ProducerSettings(linger_ms=5, compression=compression, max_in_flight=4),
    )
    got = await read_back(kafka_bootstrap, topic, len(sent))
    assert len(got) == len(sent)
    for key in {k for k, _ in sent}:
        assert [v for _, k, v in got if k == key] == [v for k, v in sent if k == key]
        assert {p for p, k, _ in got if k == key} == {partition_for(key, PARTITIONS)}


async def test_backpressure_window_of_one(kafka_bootstrap: str) -> None:
    topic = await new_topic(kafka_bootstrap)
    sent = [(b"run", str(i).encode()) for i in range(50)]
    await asyncio.to_thread(
        produce, kafka_bootstrap, topic, sent, ProducerSettings(linger_ms=5, max_in_flight=1)
    )
    got = await read_back(kafka_bootstrap, topic, len(sent))
    assert [v for _, _, v in got] == [v for _, v in sent]


async def test_a_record_kafka_refuses_outright_raises_at_send_and_the_rest_arrive(
    kafka_bootstrap: str,
) -> None:
    topic = await new_topic(kafka_bootstrap)
    too_big = b"x" * (9 * 1024 * 1024)  # over the producer's 8 MiB message limit
    beyond = next(  # a key whose partition, among 13, is not one of the topic's 3
        key for key in (f"run-{i}".encode() for i in range(100)) if partition_for(key, 13) >= 3
    )

    def attempt() -> list[str]:
        producer = EventProducer(kafka_bootstrap, ProducerSettings(linger_ms=5))
        refused = []
        try:
            producer.send(topic, b"run", b"before", PARTITIONS)
            for key, value, partitions in [(b"run", too_big, PARTITIONS), (beyond, b"x", 13)]:
                with pytest.raises(DeliveryError) as failure:
                    producer.send(topic, key, value, partitions)
                refused.append(str(failure.value))
            producer.send(topic, b"run", b"after", PARTITIONS)  # the producer stays usable
            producer.flush(timeout=60)
            return refused
        finally:
            producer.close()

    refused = await asyncio.to_thread(attempt)
    assert "Message size too large" in refused[0]
    assert "Unknown partition" in refused[1]
    got = await read_back(kafka_bootstrap, topic, 2)
    assert [v for _, _, v in got] == [b"before", b"after"]


async def test_an_undelivered_record_fails_the_next_flush_and_the_rest_arrive(
    kafka_bootstrap: str,
) -> None:
    topic = await new_topic(kafka_bootstrap)
    missing = f"missing-{uuid.uuid4().hex[:10]}"  # the broker creates no topic on demand

    def attempt() -> str:
        producer = EventProducer(kafka_bootstrap, ProducerSettings(linger_ms=5))
        try:
            producer.send(topic, b"run", b"before", PARTITIONS)
            producer.send(missing, b"run", b"lost", PARTITIONS)  # refused by the broker, later
            producer.send(topic, b"run", b"after", PARTITIONS)
            with pytest.raises(DeliveryError) as failure:
                producer.flush(timeout=60)
            producer.send(topic, b"run", b"later", PARTITIONS)  # reported once, then usable
            producer.flush(timeout=60)
            return str(failure.value)
        finally:
            producer.close()

    message = await asyncio.to_thread(attempt)
    assert "1 record(s) not delivered" in message
    got = await read_back(kafka_bootstrap, topic, 3)
    assert [v for _, _, v in got] == [b"before", b"after", b"later"]


def test_without_a_broker_the_producer_fails_at_once() -> None:
    with socket.socket() as unused:  # a loopback port nobody listens on
        unused.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{unused.getsockname()[1]}"
    with pytest.raises(DeliveryError, match=f"no Kafka broker at {address}"):
        EventProducer(address, ProducerSettings(connect_timeout=1.0))
