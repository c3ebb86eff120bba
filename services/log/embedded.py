"""The embedded event log: an append-only PostgreSQL table, tailed with LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

import asyncpg

from services.log.base import LogRecord, Position, TopicLayout, TopicPartition, partition_for

log = logging.getLogger(__name__)

CHANNEL = "ledgerflow_log"

_CLAIM = """
UPDATE event_log_partitions SET next_offset = next_offset + $3
 WHERE topic = $1 AND partition = $2
RETURNING next_offset"""

# UNNEST turns one statement into many rows: the whole partition's share of the batch in one trip.
_INSERT = """
INSERT INTO event_log (topic, partition, "offset", key, value)
SELECT $1, $2, $3 + t.ord - 1, t.key, t.value
  FROM unnest($4::bytea[], $5::bytea[]) WITH ORDINALITY AS t(key, value, ord)"""

_READ = """
SELECT e.topic, e.partition, e."offset", e.key, e.value, e.appended_at
  FROM unnest($1::text[], $2::int[], $3::bigint[]) AS p(topic, partition, start)
 CROSS JOIN LATERAL (
        SELECT * FROM event_log e
         WHERE e.topic = p.topic AND e.partition = p.partition AND e."offset" >= p.start
         ORDER BY e."offset"
         LIMIT $4) e"""


class EmbeddedEventLog:
    """The event log in the embedded (single machine) mode. Same contract as Kafka's."""

    def __init__(self, pool: asyncpg.Pool, dsn: str, layout: TopicLayout | None = None) -> None:
        self.layout = layout or TopicLayout()
        self._pool = pool
        self._dsn = dsn
        self._listener: asyncpg.Connection | None = None
        self._wakers: set[asyncio.Event] = set()
        self._closed = False

    async def start(self) -> None:
        rows = [(t, p) for t in self.layout.topics() for p in range(self.layout.partitions(t))]
        async with self._pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO event_log_partitions (topic, partition) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING",
                rows,
            )
        await self._listen()

    async def _listen(self) -> None:
        self._listener = await asyncpg.connect(self._dsn)
        await self._listener.add_listener(CHANNEL, self._on_notify)
        self._listener.add_termination_listener(self._on_listener_lost)

    def _on_notify(self, *_: object) -> None:
        for waker in self._wakers:
            waker.set()

    def _on_listener_lost(self, *_: object) -> None:
        # Readers keep polling on their timeout; reconnect so that they are woken again.
        if self._closed:
            return
        log.warning("event log listener connection lost; reconnecting")
        self._listener = None
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.1
        while self._listener is None and not self._closed:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._on_notify()

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()

    async def append(
        self, topic: str, records: Sequence[tuple[bytes | None, bytes]]
    ) -> list[Position]:
        n_partitions = self.layout.partitions(topic)
        by_partition: dict[int, list[int]] = defaultdict(list)
        for index, (key, _) in enumerate(records):
            by_partition[partition_for(key, n_partitions)].append(index)
        positions: list[Position | None] = [None] * len(records)
        async with self._pool.acquire() as conn, conn.transaction():
            # Partitions in a fixed order, so two appenders never wait on each other in a cycle.
            for partition in sorted(by_partition):
                indexes = by_partition[partition]
                end = await conn.fetchval(_CLAIM, topic, partition, len(indexes))
                if end is None:
                    raise KeyError(f"unknown topic partition {topic}/{partition}")
                first = end - len(indexes)
                await conn.execute(
                    _INSERT,
                    topic,
                    partition,
                    first,
                    [records[i][0] for i in indexes],
                    [records[i][1] for i in indexes],
                )
                for offset, index in enumerate(indexes, start=first):
                    positions[index] = Position(topic, partition, offset)
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)
        return [p for p in positions if p is not None]

    async def end_offsets(self, topic: str) -> dict[int, int]:
        rows = await self._pool.fetch(
            "SELECT partition, next_offset FROM event_log_partitions WHERE topic = $1", topic
        )
        return {r["partition"]: r["next_offset"] for r in rows}

    def reader(self, start: Mapping[TopicPartition, int]) -> EmbeddedLogReader:
        return EmbeddedLogReader(self, start)

    # used by readers
    def _register(self, waker: asyncio.Event) -> None:
        self._wakers.add(waker)

    def _unregister(self, waker: asyncio.Event) -> None:
        self._wakers.discard(waker)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool


class EmbeddedLogReader:
    """Reads assigned partitions in offset order; sleeps on NOTIFY when caught up."""

    def __init__(self, log_: EmbeddedEventLog, start: Mapping[TopicPartition, int]) -> None:
        self._log = log_
        self._positions = dict(start)
        self._wake = asyncio.Event()
        self._rotation = 0
        log_._register(self._wake)

    async def next_batch(self, max_records: int, timeout: float) -> list[LogRecord]:
        deadline = time.monotonic() + timeout
        while True:
            self._wake.clear()
            records = await self._fetch(max_records)
            if records:
                return records
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    async def _fetch(self, max_records: int) -> list[LogRecord]:
        if not self._positions:
            return []
        heads = await self._log.pool.fetch(
            "SELECT topic, partition, next_offset FROM event_log_partitions "
            "WHERE topic = ANY($1::text[])",
            list({tp.topic for tp in self._positions}),
        )
        active = [
            tp
            for row in heads
            if (tp := TopicPartition(row[0], row[1])) in self._positions
            and row[2] > self._positions[tp]
        ]
        if not active:
            return []
        # Rotate so a busy partition cannot starve the others, and share the batch among the
        # partitions that have something, so memory stays bounded by max_records.
        self._rotation = (self._rotation + 1) % len(active)
        active = active[self._rotation :] + active[: self._rotation]
        share = max(1, max_records // len(active))
        rows = await self._log.pool.fetch(
            _READ,
            [tp.topic for tp in active],
            [tp.partition for tp in active],
            [self._positions[tp] for tp in active],
            share,
        )
        order = {tp: i for i, tp in enumerate(active)}
        rows = sorted(rows, key=lambda r: (order[TopicPartition(r[0], r[1])], r[2]))
        records = [
            LogRecord(
                topic=row[0],
                partition=row[1],
                offset=row[2],
                key=row[3],
                value=row[4],
                timestamp_ms=int(row[5].timestamp() * 1000),
            )
            for row in rows
        ]
        for record in records:
            self._positions[record.tp] = record.offset + 1
        return records

    async def close(self) -> None:
        self._log._unregister(self._wake)
