"""The audit log refuses changes; a change made behind its back is found by `audit verify`."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import pytest

from services.audit.verify import verify
from services.log.embedded import EmbeddedEventLog
from services.projector.worker import BatchApplier
from tests.integration.projector.test_project_batch import as_records
from tests.samples import mixed_events


@pytest.fixture
async def audited(pool: asyncpg.Pool, embedded_log: EmbeddedEventLog) -> asyncpg.Pool:
    """An audit log with 30 control links."""
    applier = BatchApplier(pool, embedded_log)
    await applier.apply(as_records(mixed_events(30, control_share=1.0), "x.control"))
    return pool


async def _report(pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        return await verify(conn)


def run_cli(db_dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGERFLOW_DATABASE_URL": db_dsn, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET verdict = 'rejected' WHERE chain_seq = 3",
        "DELETE FROM audit_log WHERE chain_seq = 3",
        "TRUNCATE audit_log",
    ],
)
async def test_update_delete_truncate_are_refused(audited: asyncpg.Pool, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await audited.execute(statement)
    assert await audited.fetchval("SELECT count(*) FROM audit_log") == 30


async def _behind_the_triggers(pool: asyncpg.Pool, *statements: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for statement in statements:
            await conn.execute(statement)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_cli_reports_an_intact_chain(audited: asyncpg.Pool, db_dsn: str) -> None:
    result = run_cli(db_dsn, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "intact: 30 links" in result.stdout


async def test_altered_row_is_named(audited: asyncpg.Pool, db_dsn: str) -> None:
    seq = await audited.fetchval("SELECT seq FROM audit_log WHERE chain_seq = 17")
    await _behind_the_triggers(
        audited, "UPDATE audit_log SET reason = 'nothing to see' WHERE chain_seq = 17"
    )
    report = await _report(audited)
    broken = report.chains[0].broken
    assert broken is not None and (broken.chain_seq, broken.seq) == (17, seq)
    assert "hash" in broken.problem

    result = run_cli(db_dsn, "audit", "verify")
    assert result.returncode == 1
    assert f"link 17 (audit seq {seq})" in result.stderr


async def test_altered_payload_is_named(audited: asyncpg.Pool) -> None:
    await _behind_the_triggers(
        audited,
        "UPDATE audit_log SET event = replace(event, '\"value\":', '\"value\": ') "
        "WHERE chain_seq = 9",
    )
    broken = (await _report(audited)).chains[0].broken
    assert broken is not None and broken.chain_seq == 9


async def test_altered_indexed_column_is_named(audited: asyncpg.Pool) -> None:
    await _behind_the_triggers(
        audited, "UPDATE audit_log SET actor_name = 'mallory' WHERE chain_seq = 4"
    )
    broken = (await _report(audited)).chains[0].broken
    assert broken is not None and broken.chain_seq == 4
    assert "actor_name" in broken.problem


async def test_deleted_row_is_named(audited: asyncpg.Pool) -> None:
    await _behind_the_triggers(audited, "DELETE FROM audit_log WHERE chain_seq = 12")
    broken = (await _report(audited)).chains[0].broken
    assert broken is not None
    assert broken.chain_seq == 13 and "link 12 is missing" in broken.problem


async def test_deleted_last_row_is_named(audited: asyncpg.Pool) -> None:
    await _behind_the_triggers(audited, "DELETE FROM audit_log WHERE chain_seq = 30")
    broken = (await _report(audited)).chains[0].broken
    assert broken is not None and "ends at link 29" in broken.problem


async def test_reordered_rows_are_named(audited: asyncpg.Pool) -> None:
    # Swap the positions of links 5 and 6 (a reordering of history).
    await _behind_the_triggers(
        audited,
        "UPDATE audit_log SET chain_seq = -5 WHERE chain_seq = 5",
        "UPDATE audit_log SET chain_seq = 5 WHERE chain_seq = 6",
        "UPDATE audit_log SET chain_seq = 6 WHERE chain_seq = -5",
    )
    broken = (await _report(audited)).chains[0].broken
    assert broken is not None and broken.chain_seq == 5
