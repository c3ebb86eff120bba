"""audit export / check-export, incremental verification, and the check against the log."""

from __future__ import annotations

import asyncpg
import orjson
import pytest

from services.audit.coordinates import check_coordinates
from services.audit.export import check_export, export_lines
from services.audit.verify import verify
from services.log.embedded import EmbeddedEventLog
from services.log.publisher import EventPublisher
from services.projector.worker import BatchApplier
from tests.integration.projector.test_audit_tamper import run_cli
from tests.samples import mixed_events


@pytest.fixture
async def projected(pool: asyncpg.Pool, embedded_log: EmbeddedEventLog) -> asyncpg.Pool:
    """300 events published to the embedded log and projected from it."""
    await EventPublisher(embedded_log).publish(mixed_events(300, seed=5))
    applier = BatchApplier(pool, embedded_log)
    layout = embedded_log.layout
    for topic in (layout.control, layout.data):
        start = {tp: 0 for tp in layout.all_partitions(topic)}
        reader = embedded_log.reader(start)
        while records := await reader.next_batch(500, 0.2):
            await applier.apply(records)
        await reader.close()
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 300
    return pool


async def _behind_the_triggers(pool: asyncpg.Pool, table: str, *statements: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            await conn.execute(statement)
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


async def _export(pool: asyncpg.Pool, **kwargs) -> list[bytes]:
    async with pool.acquire() as conn:
        return [line async for line in export_lines(conn, **kwargs)]


async def test_export_verifies_without_the_database(projected: asyncpg.Pool) -> None:
    lines = await _export(projected)
    assert len(lines) == 300
    result = check_export(lines)
    assert result.intact and result.lines == 300
    # a range starting mid-chain still checks
    assert check_export(await _export(projected, from_seq=120, to_seq=250)).intact
    # tampered content is named by line
    tampered = [*lines]
    line = orjson.loads(tampered[41])
    line["reason"] = "forged"
    tampered[41] = orjson.dumps(line)
    result = check_export(tampered)
    assert not result.intact
    assert result.problems[0].startswith("line 42:")
    # a dropped line breaks its chain's sequence
    dropped = check_export(lines[:10] + lines[11:])
    assert not dropped.intact


async def test_cli_export_and_check(projected: asyncpg.Pool, db_dsn: str, tmp_path) -> None:
    out = tmp_path / "audit.jsonl"
    exported = run_cli(db_dsn, "audit", "export", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "wrote 300 links" in exported.stdout
    assert run_cli(db_dsn, "audit", "check-export", str(out)).returncode == 0
    text = out.read_text().splitlines()
    line = orjson.loads(text[7])
    line["verdict"] = "accepted" if line["verdict"] == "rejected" else "rejected"
    text[7] = orjson.dumps(line).decode()
    out.write_text("\n".join(text) + "\n")
    checked = run_cli(db_dsn, "audit", "check-export", str(out))
    assert checked.returncode == 1 and "line 8:" in checked.stderr


async def test_incremental_verification_resumes_at_the_checkpoint(
    projected: asyncpg.Pool, embedded_log: EmbeddedEventLog
) -> None:
    async with projected.acquire() as conn:
        first = await verify(conn, incremental=True)
        assert first.intact and first.links == 300
        again = await verify(conn, incremental=True)
        assert again.intact and again.links == 0
    # new links: only they are read next time
    await EventPublisher(embedded_log).publish(mixed_events(20, seed=9, control_share=1.0))
    reader = embedded_log.reader(
        {tp: 0 for tp in embedded_log.layout.all_partitions(embedded_log.layout.control)}
    )
    applier = BatchApplier(projected, embedded_log)
    while records := await reader.next_batch(500, 0.2):
        await applier.apply(records)
    await reader.close()
    async with projected.acquire() as conn:
        third = await verify(conn, incremental=True)
        assert third.intact and third.links == 20
        # a change behind the newest checkpoint is found by a full verification
        await _behind_the_triggers(
            projected, "audit_log", "UPDATE audit_log SET reason = 'x' WHERE seq = 3"
        )
        assert (await verify(conn, incremental=True)).intact
        assert not (await verify(conn)).intact


async def test_links_are_checked_against_the_log(
    projected: asyncpg.Pool, embedded_log: EmbeddedEventLog, db_dsn: str
) -> None:
    async with projected.acquire() as conn:
        assert await check_coordinates(conn, embedded_log) == []
    # rewrite one record in the log itself: the audit chain alone cannot see it
    target = await projected.fetchrow(
        "SELECT topic, partition, log_offset, chain, chain_seq FROM audit_log "
        "WHERE topic LIKE '%.data' ORDER BY seq LIMIT 1 OFFSET 5"
    )
    forged = orjson.dumps({"forged": True})
    await _behind_the_triggers(
        projected,
        "event_log",
        f"UPDATE event_log SET value = '\\x{forged.hex()}'::bytea WHERE topic = "
        f"'{target['topic']}' AND partition = {target['partition']} "
        f'AND "offset" = {target["log_offset"]}',
    )
    async with projected.acquire() as conn:
        assert (await verify(conn)).intact
        problems = await check_coordinates(conn, embedded_log)
    assert [(p.chain, p.chain_seq) for p in problems] == [(target["chain"], target["chain_seq"])]
    assert "not the event this link recorded" in problems[0].problem
