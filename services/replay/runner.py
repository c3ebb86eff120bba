"""The replay itself: project the history into a fresh schema with the live projection code,
resumably, then catch up with the live projector and swap the rebuilt schema in.

Progress is stored like the live projector's: positions of the consumer `replay:<schema>` are
written in the same transaction as each batch, so an interrupted replay resumes where it
stopped and never applies an event twice (the schema's `seen_events` also drops an event
published twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from schemas import EventDecodeError, MetricsLogged
from services.bi.rebind import follow_swap
from services.log.base import LogRecord, TopicPartition
from services.projector import positions
from services.projector.batch import (
    REPLAY,
    SWAP_LOCK,
    DeadLetter,
    decode_records,
    project_batch,
)
from services.projector.worker import CONSUMER as LIVE_CONSUMER
from services.replay.digest import Comparison, compare
from services.replay.schema import quoted, swap_in
from services.replay.sources import AuditSource, ReplaySource
from services.store.pool import CORE_SCHEMA, READ_SCHEMA, init_connection

Progress = Callable[[int, int], None]
"""Called after each batch with (events, metric points) applied."""


def consumer_for(schema: str) -> str:
    return f"replay:{schema}"


async def connect_to(dsn: str, schema: str) -> asyncpg.Connection:
    """A connection whose search path puts ``schema`` first: the projections' unqualified table
    names then mean the rebuilt schema's tables."""
    conn = await asyncpg.connect(
        dsn,
        server_settings={
            "search_path": f"{quoted(schema)},{CORE_SCHEMA},public",
            "application_name": "ledgerflow-replay",
        },
        statement_cache_size=0,
    )
    await init_connection(conn)
    return conn


async def _no_deadletters(letters: Sequence[DeadLetter]) -> None:
    """The live projector already sent these to the dead-letter topic."""


@dataclass
class ReplayStats:
    events: int = 0
    points: int = 0
    batches: int = 0
    seconds: float = 0.0
    rejected: int = 0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0


async def replay(
    conn: asyncpg.Connection,
    schema: str,
    source: ReplaySource,
    *,
    max_batch: int = 2000,
    progress: Progress | None = None,
    stats: ReplayStats | None = None,
) -> ReplayStats:
    """Apply everything the source holds beyond this replay's stored positions."""
    stats = stats or ReplayStats()
    consumer = consumer_for(schema)
    start = await positions.load(conn, consumer)
    began = time.monotonic()
    async for batch in source.batches(start, max_batch):
        decoded = decode_records(batch)
        result = await project_batch(
            conn,
            batch,
            consumer=consumer,
            deadletter=_no_deadletters,
            target=REPLAY,
            decoded=decoded,
        )
        points = sum(
            len(event.payload.keys)
            for event in decoded
            if not isinstance(event, EventDecodeError) and isinstance(event.payload, MetricsLogged)
        )
        stats.events += result.applied
        stats.points += points
        stats.batches += 1
        stats.rejected += sum(1 for v in result.verdicts.values() if not v.accepted)
        if progress is not None:
            progress(len(batch), points)
    stats.seconds += time.monotonic() - began
    return stats


async def lag(conn: asyncpg.Connection, schema: str) -> int:
    """Audit links the live projector has applied that this replay has not."""
    live = await positions.load(conn, LIVE_CONSUMER)
    mine = await positions.load(conn, consumer_for(schema))
    total = 0
    for tp, end in live.items():
        total += await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE topic = $1 AND partition = $2 "
            "AND log_offset >= $3 AND log_offset < $4",
            tp.topic,
            tp.partition,
            mine.get(tp, 0),
            end,
        )
    return int(total)


@dataclass
class SwapResult:
    swapped: bool
    comparison: Comparison
    retired: str | None = None
    tail_events: int = 0
    lock_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


async def _apply_tail(
    replay_conn: asyncpg.Connection, schema: str, live: dict[TopicPartition, int]
) -> int:
    """What the live projector applied beyond this replay, read from the audit log."""
    consumer = consumer_for(schema)
    mine = await positions.load(replay_conn, consumer)
    applied = 0
    async for batch in AuditSource(replay_conn).batches(mine, 2000):
        keep: list[LogRecord] = [r for r in batch if r.offset < live.get(r.tp, 0)]
        if keep:
            result = await project_batch(
                replay_conn, keep, consumer=consumer, deadletter=_no_deadletters, target=REPLAY
            )
            applied += result.applied
    return applied


async def catch_up_and_swap(
    admin: asyncpg.Connection, replay_conn: asyncpg.Connection, schema: str, *, swap: bool = True
) -> SwapResult:
    """Pause live projection (its batches take the swap lock shared), apply the last events the
    live projector applied, compare the schemas table by table, and if they are identical swap
    the rebuilt one in. Writes keep being accepted meanwhile: their verdicts wait for the lock."""
    began = time.monotonic()
    async with admin.transaction():
        await admin.execute("SELECT pg_advisory_xact_lock($1)", SWAP_LOCK)
        live = await positions.load(admin, LIVE_CONSUMER)
        tail = await _apply_tail(replay_conn, schema, live)
        comparison = await compare(admin, READ_SCHEMA, schema)
        result = SwapResult(swapped=False, comparison=comparison, tail_events=tail)
        if comparison.identical and swap:
            # BI views (schema bi_v*) name the live read-model tables: re-create them on the
            # rebuilt ones in this same transaction, so BI readers follow the swap
            # (services/bi/rebind.py).
            async with follow_swap(admin):
                result.retired = await swap_in(admin, schema)
            result.swapped = True
            await admin.execute(
                "DELETE FROM projector_positions WHERE consumer = $1", consumer_for(schema)
            )
    result.lock_seconds = time.monotonic() - began
    return result
