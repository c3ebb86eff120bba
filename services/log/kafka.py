"""The Kafka event log: idempotent acks=all producer, explicit topic configs, offset readers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTP
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from services.log.base import LogRecord, Position, TopicLayout, TopicPartition, partition_for
from services.settings import KafkaSettings

log = logging.getLogger(__name__)


def topic_configs(settings: KafkaSettings) -> dict[str, str]:
    """Every topic keeps its records forever: the log is the system of record."""
    return {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "cleanup.policy": "delete",
        "min.insync.replicas": str(settings.min_insync_replicas),
        "max.message.bytes": str(settings.max_message_bytes),
        "message.timestamp.type": "CreateTime",
        "unclean.leader.election.enable": "false",
    }


class _TopicsNotReady(RuntimeError):
    pass


class KafkaEventLog:
    """The event log on a Kafka cluster."""

    def __init__(self, settings: KafkaSettings, layout: TopicLayout) -> None:
        self.settings = settings
        self.layout = layout
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        await self.ensure_topics()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            linger_ms=self.settings.linger_ms,
            compression_type=None
            if self.settings.compression == "none"
            else self.settings.compression,
            max_request_size=self.settings.max_message_bytes,
            max_batch_size=1024 * 1024,
            client_id="ledgerflow",
        )
        await self._producer.start()

    async def ensure_topics(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.bootstrap_servers)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [
                NewTopic(
                    name=topic,
                    num_partitions=self.layout.partitions(topic),
                    replication_factor=self.settings.replication_factor,
                    topic_configs=topic_configs(self.settings),
                )
                for topic in self.layout.topics()
                if topic not in existing
            ]
            if wanted:
                # Another process may create them between our list and our create.
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(wanted)
            await self._check_partitions(admin)
        finally:
            await admin.close()

    async def _check_partitions(self, admin: AIOKafkaAdminClient) -> None:
        # A topic just created may be described without partitions until its leaders are
        # elected; wait for them (bounded) so that the log is usable when this returns.
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            retry=retry_if_exception_type(_TopicsNotReady),
            reraise=True,
        ):
            with attempt:
                described = await admin.describe_topics(list(self.layout.topics()))
                pending = [t["topic"] for t in described if not t["partitions"]]
                if pending:
                    raise _TopicsNotReady(f"topics without partitions yet: {pending}")
        for topic in described:
            want = self.layout.partitions(topic["topic"])
            have = len(topic["partitions"])
            if have and have != want:
                raise RuntimeError(
                    f"topic {topic['topic']} has {have} partitions but ledgerflow is configured "
                    f"for {want}; set LEDGERFLOW_KAFKA_DATA_PARTITIONS={have} or recreate it"
                )

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def append(
        self, topic: str, records: Sequence[tuple[bytes | None, bytes]]
    ) -> list[Position]:
        if self._producer is None:
            raise RuntimeError("KafkaEventLog.append before start()")
        n_partitions = self.layout.partitions(topic)
        futures = [
            await self._producer.send(
                topic, value, key=key, partition=partition_for(key, n_partitions)
            )
            for key, value in records
        ]
        metadata = await asyncio.gather(*futures)
        return [Position(topic, m.partition, m.offset) for m in metadata]

    async def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tps = [KafkaTP(topic, p) for p in range(self.layout.partitions(topic))]
            ends = await consumer.end_offsets(tps)
            return {tp.partition: offset for tp, offset in ends.items()}
        finally:
            await consumer.stop()

    def reader(self, start: Mapping[TopicPartition, int]) -> KafkaLogReader:
        return KafkaLogReader(self.settings.bootstrap_servers, start)


class KafkaLogReader:
    """Reads assigned partitions from given offsets with a group-less consumer."""

    def __init__(self, bootstrap_servers: str, start: Mapping[TopicPartition, int]) -> None:
        self._bootstrap = bootstrap_servers
        self._start = dict(start)
        self._consumer: AIOKafkaConsumer | None = None

    async def _ensure(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=8 * 1024 * 1024,
            )
            await consumer.start()
            consumer.assign([KafkaTP(tp.topic, tp.partition) for tp in self._start])
            for tp, offset in self._start.items():
                consumer.seek(KafkaTP(tp.topic, tp.partition), offset)
            self._consumer = consumer
        return self._consumer

    async def next_batch(self, max_records: int, timeout: float) -> list[LogRecord]:
        consumer = await self._ensure()
        fetched = await consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        records: list[LogRecord] = []
        for tp in sorted(fetched, key=lambda t: (t.topic, t.partition)):
            for message in fetched[tp]:
                records.append(
                    LogRecord(
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        key=message.key,
                        value=message.value,
                        timestamp_ms=message.timestamp,
                    )
                )
        return records

    async def close(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()
