"""Consumed positions of each projector consumer, stored with the batch that advanced them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import asyncpg

from services.log.base import TopicPartition


async def lock(
    conn: asyncpg.Connection, consumer: str, tps: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Stored next offsets of ``tps`` (0 where none), locked until the transaction ends.

    The row locks make two workers that were both handed a partition (during a rebalance)
    apply its batches one after the other, and the second sees the first's position. One
    statement: a missing row is inserted at 0, an existing one is locked by an update that
    keeps its offset, and RETURNING gives the offset as last committed (an upsert that waited
    for another transaction's lock reads the row that transaction left).
    """
    tps = sorted(set(tps), key=lambda tp: (tp.topic, tp.partition))
    rows = await conn.fetch(
        "INSERT INTO projector_positions (consumer, topic, partition, next_offset) "
        "SELECT $1, topic, partition, 0 FROM unnest($2::text[], $3::int[]) AS t(topic, partition) "
        "ORDER BY topic, partition "
        "ON CONFLICT (consumer, topic, partition) "
        "DO UPDATE SET next_offset = projector_positions.next_offset "
        "RETURNING topic, partition, next_offset",
        consumer,
        [tp.topic for tp in tps],
        [tp.partition for tp in tps],
    )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def store(
    conn: asyncpg.Connection, consumer: str, positions: Mapping[TopicPartition, int]
) -> None:
    await conn.executemany(
        "UPDATE projector_positions SET next_offset = $4, updated_at = clock_timestamp() "
        "WHERE consumer = $1 AND topic = $2 AND partition = $3",
        [(consumer, tp.topic, tp.partition, offset) for tp, offset in positions.items()],
    )


async def load(conn: asyncpg.Connection | asyncpg.Pool, consumer: str) -> dict[TopicPartition, int]:
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM projector_positions WHERE consumer = $1",
        consumer,
    )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
