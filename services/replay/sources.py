"""Where a replay reads the history from: the audit log, or the event log itself.

The audit log is replayed in its global sequence, which is the order the live projector applied
events in. The event log (Kafka, or the embedded table) is merged across its partitions by the
time each event occurred, keeping every partition in offset order: an event's causes (a run's
creation before its metrics) were projected before the event was even written, so they occurred
first. Both sources hand out batches of consecutive records of ONE topic, so a set-based
projection never runs ahead of an earlier control event.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import asyncpg
import orjson

from services.log.base import EventLog, LogReader, LogRecord, TopicPartition


class ReplaySource(Protocol):
    name: str

    async def remaining(self, start: Mapping[TopicPartition, int]) -> int:
        """Records ahead of ``start`` (for the progress bar)."""
        ...

    def batches(
        self, start: Mapping[TopicPartition, int], max_batch: int
    ) -> AsyncIterator[list[LogRecord]]:
        """Single-topic batches of the records at or after ``start``, up to the log's end."""
        ...


class AuditSource:
    """The audit log's events in sequence order, with their original log coordinates."""

    name = "audit log"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def remaining(self, start: Mapping[TopicPartition, int]) -> int:
        rows = await self.conn.fetch(
            "SELECT topic, partition, count(*) FROM audit_log GROUP BY topic, partition"
        )
        total = 0
        for topic, partition, count in rows:
            done = await self.conn.fetchval(
                "SELECT count(*) FROM audit_log WHERE topic = $1 AND partition = $2 "
                "AND log_offset < $3",
                topic,
                partition,
                start.get(TopicPartition(topic, partition), 0),
            )
            total += count - done
        return int(total)

    async def batches(
        self, start: Mapping[TopicPartition, int], max_batch: int
    ) -> AsyncIterator[list[LogRecord]]:
        after = 0
        while True:
            rows = await self.conn.fetch(
                "SELECT seq, topic, partition, log_offset, aggregate, event, "
                "extract(epoch FROM recorded_at) * 1000 AS ms FROM audit_log "
                "WHERE seq > $1 ORDER BY seq LIMIT $2",
                after,
                max_batch,
            )
            if not rows:
                return
            after = rows[-1]["seq"]
            batch: list[LogRecord] = []
            for row in rows:
                tp = TopicPartition(row["topic"], row["partition"])
                if row["log_offset"] < start.get(tp, 0):
                    continue
                record = LogRecord(
                    row["topic"],
                    row["partition"],
                    row["log_offset"],
                    row["aggregate"].encode(),
                    row["event"].encode(),
                    int(row["ms"]),
                )
                if batch and batch[-1].topic != record.topic:
                    yield batch
                    batch = []
                batch.append(record)
            if batch:
                yield batch


def _occurred(record: LogRecord) -> str:
    try:
        value = orjson.loads(record.value).get("occurred_at")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


class EventLogSource:
    """The event log's partitions merged by occurrence time, each kept in offset order."""

    name = "event log"

    def __init__(self, event_log: EventLog, poll_timeout: float = 1.0) -> None:
        self.event_log = event_log
        self.poll_timeout = poll_timeout

    def _partitions(self) -> list[TopicPartition]:
        layout = self.event_log.layout
        return [*layout.all_partitions(layout.control), *layout.all_partitions(layout.data)]

    async def _ends(self) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = {}
        layout = self.event_log.layout
        for topic in (layout.control, layout.data):
            for partition, end in (await self.event_log.end_offsets(topic)).items():
                ends[TopicPartition(topic, partition)] = end
        return ends

    async def remaining(self, start: Mapping[TopicPartition, int]) -> int:
        ends = await self._ends()
        return sum(max(0, end - start.get(tp, 0)) for tp, end in ends.items())

    async def batches(
        self, start: Mapping[TopicPartition, int], max_batch: int
    ) -> AsyncIterator[list[LogRecord]]:
        ends = await self._ends()
        readers: dict[TopicPartition, LogReader] = {}
        buffers: dict[TopicPartition, deque[LogRecord]] = {}
        positions: dict[TopicPartition, int] = {}
        try:
            for tp in self._partitions():
                positions[tp] = start.get(tp, 0)
                if positions[tp] < ends.get(tp, 0):
                    readers[tp] = self.event_log.reader({tp: positions[tp]})
                    buffers[tp] = deque()

            async def head(tp: TopicPartition) -> LogRecord | None:
                buffer = buffers[tp]
                while not buffer and positions[tp] < ends[tp]:
                    got = await readers[tp].next_batch(max_batch, self.poll_timeout)
                    for record in got:
                        if record.offset < ends[tp]:
                            buffer.append(record)
                    if got:
                        positions[tp] = got[-1].offset + 1
                    else:
                        break
                return buffer[0] if buffer else None

            rank = {self.event_log.layout.control: 0}
            heap: list[tuple[str, int, str, int, int]] = []
            for tp in list(buffers):
                first = await head(tp)
                if first is not None:
                    heapq.heappush(
                        heap, (_occurred(first), rank.get(tp.topic, 1), tp.topic, tp.partition, 0)
                    )
            batch: list[LogRecord] = []
            while heap:
                _, _, topic, partition, _ = heapq.heappop(heap)
                tp = TopicPartition(topic, partition)
                record = buffers[tp].popleft()
                if batch and (batch[-1].topic != record.topic or len(batch) >= max_batch):
                    yield batch
                    batch = []
                batch.append(record)
                following = await head(tp)
                if following is not None:
                    heapq.heappush(
                        heap,
                        (_occurred(following), rank.get(topic, 1), topic, partition, 0),
                    )
            if batch:
                yield batch
        finally:
            for reader in readers.values():
                await reader.close()
