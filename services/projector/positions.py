"""Consumed positions of each projector consumer, stored with the batch that advanced them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import asyncpg

from services.log.base import TopicPartition


async def lock(
    conn: asyncpg.Connection,
    consumer: str,
    tps: Iterable[TopicPartition],
    *,
    first: str | None = None,
) -> dict[TopicPartition, int]:
    """Stored next offsets of ``tps`` (0 where none), locked until the transaction ends.

    The row locks make two workers that were both handed a partition (during a rebalance)
    apply its batches one after the other, and the second sees the first's position. One
    statement: a missing row is inserted at 0, an existing one is locked by an update that
    keeps its offset, and RETURNING gives the offset as last committed (an upsert that waited
    for another transaction's lock reads the row that transaction left).

    ``first``, a select list of expressions without parameters (taking a lock of the caller's,
    a transaction setting), is evaluated once before any row is locked, in the same round trip.
    """
    tps = sorted(set(tps), key=lambda tp: (tp.topic, tp.partition))
    # a materialized CTE is evaluated once; the sort below needs every joined row before the
    # first insert, so it has run by then
    guard = f"WITH first AS MATERIALIZED (SELECT {first}) " if first else ""
    rows = await conn.fetch(
        f"{guard}INSERT INTO projector_positions (consumer, topic, partition, next_offset) "
        "SELECT $1, topic, partition, 0 FROM unnest($2::text[], $3::int[]) AS t(topic, partition)"
        f"{', first' if first else ''} "
        "ORDER BY topic, partition "
        "ON CONFLICT (consumer, topic, partition) "
        "DO UPDATE SET next_offset = projector_positions.next_offset "
        "RETURNING topic, partition, next_offset",
        consumer,
        [tp.topic for tp in tps],
        [tp.partition for tp in tps],
    )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


def store_statement(first: int) -> str:
    """The UPDATE that stores new positions, with its parameters numbered from ``first`` (the
    arguments are ``store_args``), for a caller that makes it part of a larger statement."""
    consumer, topics, partitions, offsets = range(first, first + 4)
    return (
        "UPDATE projector_positions AS p "
        "SET next_offset = v.next_offset, updated_at = clock_timestamp() "
        f"FROM unnest(${topics}::text[], ${partitions}::int[], ${offsets}::bigint[]) "
        "AS v(topic, partition, next_offset) "
        f"WHERE p.consumer = ${consumer}::text AND p.topic = v.topic "
        "AND p.partition = v.partition"
    )


def store_args(
    consumer: str, positions: Mapping[TopicPartition, int]
) -> tuple[str, list[str], list[int], list[int]]:
    return (
        consumer,
        [tp.topic for tp in positions],
        [tp.partition for tp in positions],
        list(positions.values()),
    )


async def load(conn: asyncpg.Connection | asyncpg.Pool, consumer: str) -> dict[TopicPartition, int]:
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM projector_positions WHERE consumer = $1",
        consumer,
    )
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
