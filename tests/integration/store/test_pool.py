"""The pool's release: no reset query round trip, and still no transaction carried over."""

from __future__ import annotations

import asyncpg

from services.store.pool import create_pool


async def last_query(observer: asyncpg.Connection, pid: int) -> str:
    return await observer.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)


async def test_a_released_connection_is_not_sent_a_reset_query(
    pool: asyncpg.Pool, db_dsn: str
) -> None:
    observer = await asyncpg.connect(db_dsn)
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.fetchval("SELECT 'the last query before release'")
        # asyncpg's default reset would be the backend's last statement now
        assert await last_query(observer, pid) == "SELECT 'the last query before release'"
    finally:
        await observer.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(db_dsn: str) -> None:
    pool = await create_pool(db_dsn, min_size=1, max_size=1)  # one connection, handed out again
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE released (n int)")
            left_open = conn.transaction()
            await left_open.start()
            await conn.execute("INSERT INTO released VALUES (1)")
            await conn.execute("SELECT set_config('application_name', 'left over', true)")
            pid = conn.get_server_pid()
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == pid
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM released") == 0
            assert await conn.fetchval("SELECT current_setting('application_name')") == "ledgerflow"
    finally:
        await pool.close()
