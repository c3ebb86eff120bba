"""The event-log interface every backend implements, and the records that cross it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka.partitioner import murmur2


@dataclass(frozen=True, slots=True)
class TopicPartition:
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record as read back from the log, with its coordinates."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


@dataclass(frozen=True, slots=True)
class Position:
    """Where an appended record landed."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class TopicLayout:
    """Topic names and partition counts; the same for every backend."""

    prefix: str = "ledgerflow"
    data_partitions: int = 8

    @property
    def control(self) -> str:
        return f"{self.prefix}.control"

    @property
    def data(self) -> str:
        return f"{self.prefix}.data"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}.deadletter"

    def partitions(self, topic: str) -> int:
        if topic == self.data:
            return self.data_partitions
        if topic in (self.control, self.deadletter):
            return 1
        raise KeyError(f"unknown topic {topic!r}")

    def topics(self) -> tuple[str, ...]:
        return (self.control, self.data, self.deadletter)

    def all_partitions(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in range(self.partitions(topic))]


def partition_for(key: bytes | None, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, positive, modulo), so any Kafka client agrees."""
    if partitions == 1 or key is None:
        return 0
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class LogReader(Protocol):
    """Reads records of assigned partitions from given offsets onwards, in offset order."""

    async def next_batch(self, max_records: int, timeout: float) -> list[LogRecord]:
        """Up to ``max_records`` records; waits up to ``timeout`` seconds when none are ready."""
        ...

    async def close(self) -> None: ...


class EventLog(Protocol):
    """An append-only, partitioned, durable log of records."""

    layout: TopicLayout

    async def start(self) -> None:
        """Connect and create the topics (idempotent)."""
        ...

    async def close(self) -> None: ...

    async def append(
        self, topic: str, records: Sequence[tuple[bytes | None, bytes]]
    ) -> list[Position]:
        """Append (key, value) records; each goes to the partition of its key. Returns once every
        record is durable, with positions in input order. Records of one key keep their order."""
        ...

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """The next offset to be written, per partition."""
        ...

    def reader(self, start: Mapping[TopicPartition, int]) -> LogReader:
        """A reader of the given partitions from the given offsets."""
        ...
