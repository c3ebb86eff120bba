"""A registry write locks the names it touches before it reads them, in the statement that
loads the models: a name not yet taken is held too, so two writers of one new name (two
projectors during a hand-over) cannot both create it."""

from __future__ import annotations

import asyncio

import asyncpg

from schemas import RegisteredModelCreated
from tests.integration.projector.conftest import waits_for_a_lock
from tests.support.projecting import Projecting


async def test_a_registry_write_waits_for_its_names_lock(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as writer, pool.acquire() as holder:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock(hashtext('registry:held'))")
            waiting = asyncio.create_task(
                Projecting(writer).verdicts(RegisteredModelCreated(name="held"))
            )
            await waits_for_a_lock(pool, writer.get_server_pid(), "advisory")
            assert not waiting.done()
            assert await holder.fetchval("SELECT count(*) FROM registered_models") == 0
        verdicts = await waiting
    assert [v.accepted for v in verdicts] == [True]
    assert await pool.fetchval("SELECT name FROM registered_models") == "held"


async def test_other_names_do_not_wait(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as writer, pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT pg_advisory_xact_lock(hashtext('registry:held'))")
        verdicts = await asyncio.wait_for(
            Projecting(writer).verdicts(RegisteredModelCreated(name="free")), timeout=30
        )
    assert [v.accepted for v in verdicts] == [True]
