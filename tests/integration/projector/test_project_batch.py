"""project_batch against real PostgreSQL: positions, redelivery, duplicates, dead letters, audit."""

from __future__ import annotations

import asyncio

import asyncpg
import orjson
import pytest

from schemas import MetricsLogged, encode, new_event
from services.audit.verify import verify
from services.log.base import LogRecord, TopicPartition
from services.log.embedded import EmbeddedEventLog
from services.projector import positions
from services.projector.batch import (
    COPY_ABOVE_CHARS,
    SWAP_LOCK,
    VERDICT_CHANNEL,
    DeadLetter,
    decode_records,
    project_batch,
)
from services.projector.verdict import read_notice
from services.projector.worker import BatchApplier
from tests.integration.projector.conftest import assert_chains_gapless, waits_for_a_lock
from tests.samples import TEST_ACTOR, mixed_events
from tests.support.projecting import no_deadletters


def as_records(events, topic: str, start: int = 0) -> list[LogRecord]:
    return [
        LogRecord(topic, 0, start + i, e.aggregate.encode(), encode(e), 0)
        for i, e in enumerate(events)
    ]


async def test_batch_writes_audit_rows_and_positions(pool: asyncpg.Pool) -> None:
    events = mixed_events(50)
    records = as_records(events, "x.control")
    async with pool.acquire() as conn:
        result = await project_batch(conn, records, consumer="c", deadletter=no_deadletters)
        assert result.applied == 50
        # the sample refers to experiments and runs that do not exist: each event is still
        # decided, and recorded, with MLflow's reason
        assert {v.error_code for v in result.verdicts.values()} == {"RESOURCE_DOES_NOT_EXIST"}
        stored = await positions.load(conn, "c")
    assert stored == {TopicPartition("x.control", 0): 50}
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 50
    report = await _verify(pool)
    assert report.intact and report.links == 50


async def test_redelivered_records_are_skipped(pool: asyncpg.Pool) -> None:
    records = as_records(mixed_events(20), "x.control")
    async with pool.acquire() as conn:
        await project_batch(conn, records[:15], consumer="c", deadletter=no_deadletters)
        # a redelivery overlapping what was applied: only offsets 15..19 are new
        result = await project_batch(conn, records[10:], consumer="c", deadletter=no_deadletters)
    assert (result.redelivered, result.applied) == (5, 5)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 20
    assert [
        r["log_offset"] for r in await pool.fetch("SELECT log_offset FROM audit_log ORDER BY seq")
    ] == list(range(20))


async def test_same_event_published_twice_is_applied_once(pool: asyncpg.Pool) -> None:
    events = mixed_events(3)
    records = as_records([*events, events[1]], "x.control")
    async with pool.acquire() as conn:
        result = await project_batch(conn, records, consumer="c", deadletter=no_deadletters)
    assert (result.applied, result.duplicates) == (3, 1)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 3
    stored = await positions.load(pool, "c")
    assert stored[TopicPartition("x.control", 0)] == 4


async def test_undecodable_records_go_to_the_dead_letter_topic(
    pool: asyncpg.Pool, embedded_log: EmbeddedEventLog
) -> None:
    good = mixed_events(2)
    records = [
        *as_records(good[:1], "x.data"),
        LogRecord("x.data", 0, 1, b"k", b"{not json", 0),
        LogRecord("x.data", 0, 2, b"k", orjson.dumps({"type": "run.exploded"}), 0),
        *as_records(good[1:], "x.data", start=3),
    ]
    applier = BatchApplier(pool, embedded_log)
    result = await applier.apply(records)
    assert (result.applied, result.dead) == (2, 2)
    rows = await pool.fetch("SELECT log_offset, reason FROM dead_letters ORDER BY log_offset")
    assert [r["log_offset"] for r in rows] == [1, 2]
    assert all(r["reason"] for r in rows)
    reader = embedded_log.reader({TopicPartition(embedded_log.layout.deadletter, 0): 0})
    letters = await reader.next_batch(10, 5.0)
    await reader.close()
    assert [orjson.loads(r.value)["offset"] for r in letters] == [1, 2]
    assert orjson.loads(letters[0].value)["reason"] == rows[0]["reason"]
    stored = await positions.load(pool, applier.consumer)
    assert stored[TopicPartition("x.data", 0)] == 4


async def test_a_failed_batch_leaves_nothing_behind(pool: asyncpg.Pool) -> None:
    records = as_records(mixed_events(5), "x.control")

    async def broken_sink(letters: list[DeadLetter]) -> None:
        raise RuntimeError("dead-letter topic unreachable")

    bad = [*records, LogRecord("x.control", 0, 5, b"k", b"garbage", 0)]
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await project_batch(conn, bad, consumer="c", deadletter=broken_sink)
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0
    assert await positions.load(pool, "c") == {}


async def test_a_live_batch_waits_for_a_swap_before_locking_its_positions(
    pool: asyncpg.Pool,
) -> None:
    """The swap lock is taken in the round trip that locks the positions, and before them:
    while a swap holds it, a batch waits without holding its positions' rows, then goes on."""
    records = as_records(mixed_events(6), "x.data")
    async with pool.acquire() as batch_conn, pool.acquire() as swap:
        await project_batch(batch_conn, records[:3], consumer="c", deadletter=no_deadletters)
        async with swap.transaction():
            await swap.execute("SELECT pg_advisory_xact_lock($1)", SWAP_LOCK)
            waiting = asyncio.create_task(
                project_batch(batch_conn, records[3:], consumer="c", deadletter=no_deadletters)
            )
            await waits_for_a_lock(pool, batch_conn.get_server_pid(), "advisory")
            # its position row is not locked meanwhile
            async with swap.transaction():
                locked = await swap.fetch(
                    "SELECT next_offset FROM projector_positions WHERE consumer = 'c' "
                    "FOR UPDATE NOWAIT"
                )
            assert [r["next_offset"] for r in locked] == [3]
            assert not waiting.done()
        result = await waiting
    assert result.applied == 3
    assert await positions.load(pool, "c") == {TopicPartition("x.data", 0): 6}


@pytest.mark.parametrize("applied_before", [0, 3])
async def test_two_workers_handed_one_partition_apply_one_after_the_other(
    pool: asyncpg.Pool, applied_before: int
) -> None:
    """During a rebalance two workers can hold the same partition. The second waits for the
    first's transaction, then starts from the position it left (a new position row too)."""
    records = as_records(mixed_events(15), "x.data")
    async with pool.acquire() as first, pool.acquire() as second:
        if applied_before:
            await project_batch(
                first, records[:applied_before], consumer="c", deadletter=no_deadletters
            )
        async with first.transaction():
            await project_batch(
                first, records[applied_before:10], consumer="c", deadletter=no_deadletters
            )
            overlapping = asyncio.create_task(
                project_batch(second, records[5:], consumer="c", deadletter=no_deadletters)
            )
            await waits_for_a_lock(pool, second.get_server_pid())
            assert not overlapping.done()
        result = await overlapping
    assert (result.redelivered, result.applied) == (5, 5)
    await assert_chains_gapless(pool, 15)
    assert await positions.load(pool, "c") == {TopicPartition("x.data", 0): 15}


async def test_big_batches_audit_rows_go_by_copy_in_batch_order(pool: asyncpg.Pool) -> None:
    """Above COPY_ABOVE_CHARS of event text the audit rows are copied, not passed as arrays:
    the chain, its order and the verdict notices are the same either way."""
    big = [
        new_event(
            MetricsLogged(
                run_id="no-such-run",
                keys=["loss"] * 1000,
                values=[0.5] * 1000,
                timestamps=[1] * 1000,
                steps=list(range(i * 1000, (i + 1) * 1000)),
            ),
            actor=TEST_ACTOR,
            source="test",
        )
        for i in range(4)
    ]
    records = as_records([*mixed_events(3), *big], "x.data")
    assert sum(len(r.value) for r in records) > COPY_ABOVE_CHARS
    notified: list[str] = []
    heard = asyncio.Event()

    def on_notice(*args: object) -> None:
        notified.append(str(args[-1]))
        heard.set()

    async with pool.acquire() as listener, pool.acquire() as conn:
        await listener.add_listener(VERDICT_CHANNEL, on_notice)
        result = await project_batch(conn, records, consumer="c", deadletter=no_deadletters)
        await asyncio.wait_for(heard.wait(), 30)
        await listener.remove_listener(VERDICT_CHANNEL, on_notice)
    assert result.applied == 7
    assert [
        r["log_offset"] for r in await pool.fetch("SELECT log_offset FROM audit_log ORDER BY seq")
    ] == list(range(7))
    assert {event_id for payload in notified for event_id, _ in read_notice(payload)} == set(
        result.verdicts
    )
    report = await _verify(pool)
    assert report.intact and report.links == 7


async def _verify(pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        return await verify(conn)


def test_undecodable_records_decode_to_their_reasons() -> None:
    good = as_records(mixed_events(1), "x.data")[0]
    bad = LogRecord("x.data", 0, 1, b"k", orjson.dumps({"type": "run.exploded"}), 0)
    decoded = decode_records([good, bad])
    assert getattr(decoded[0], "event_id", None) is not None
    assert "missing envelope field" in str(decoded[1])


async def test_events_decoded_beforehand_are_used(pool: asyncpg.Pool) -> None:
    records = as_records(mixed_events(4), "x.data")
    async with pool.acquire() as conn:
        with pytest.raises(ValueError, match="3 decoded events for 4 records"):
            await project_batch(
                conn,
                records,
                consumer="c",
                deadletter=no_deadletters,
                decoded=decode_records(records[:3]),
            )
        # the decoded events given are the ones applied (here: the first record's, twice over)
        decoded = decode_records(records[:1]) * 4
        result = await project_batch(
            conn, records, consumer="c", deadletter=no_deadletters, decoded=decoded
        )
    assert (result.applied, result.duplicates) == (1, 3)
