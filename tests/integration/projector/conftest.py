"""Fixtures for projector tests: a migrated database and the embedded event log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.log.base import TopicLayout
from services.log.embedded import EmbeddedEventLog
from services.settings import KafkaSettings

T = TypeVar("T")


@pytest.fixture
async def embedded_log(
    pool: asyncpg.Pool, db_dsn: str, layout: TopicLayout
) -> AsyncIterator[EmbeddedEventLog]:
    event_log = EmbeddedEventLog(pool, db_dsn, layout)
    await event_log.start()
    yield event_log
    await event_log.close()


async def wait_until(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 60.0
) -> T:
    """Poll ``probe`` until it returns something; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


async def waits_for_a_lock(pool: asyncpg.Pool, pid: int, kind: str | None = None) -> None:
    """Until backend ``pid`` waits for a lock (of ``kind``, e.g. "advisory", if given)."""

    async def waiting() -> bool | None:
        row = await pool.fetchrow(
            "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = $1", pid
        )
        locked = row is not None and row[0] == "Lock" and (kind is None or row[1] == kind)
        return True if locked else None

    await wait_until(waiting, f"backend {pid} waits for a {kind or 'row'} lock", timeout=30)


async def wait_for_audit_rows(pool: asyncpg.Pool, at_least: int, timeout: float = 120.0) -> int:
    """Poll the audit log until it holds ``at_least`` rows; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count = 0
    while loop.time() < deadline:
        count = await pool.fetchval("SELECT count(*) FROM audit_log")
        if count >= at_least:
            return int(count)
        await asyncio.sleep(0.05)
    raise AssertionError(f"audit log has {count} rows after {timeout}s, expected {at_least}")


async def assert_chains_gapless(pool: asyncpg.Pool, expected_rows: int) -> None:
    rows = await pool.fetch(
        "SELECT chain, count(*) AS n, min(chain_seq) AS lo, max(chain_seq) AS hi, "
        "count(DISTINCT event_id) AS ids FROM audit_log GROUP BY chain"
    )
    assert sum(r["n"] for r in rows) == expected_rows
    for r in rows:
        assert (r["lo"], r["hi"]) == (1, r["n"]), f"chain {r['chain']} has a gap or a repeat"
        assert r["ids"] == r["n"], f"chain {r['chain']} holds an event twice"
    total_ids = await pool.fetchval("SELECT count(DISTINCT event_id) FROM audit_log")
    assert total_ids == expected_rows


async def committed_offsets(kafka: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    """The consumer group's committed offset of each partition of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
