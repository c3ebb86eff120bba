"""The embedded server analyzes freshly filled tables within seconds, so searches right after a
bulk load are planned on statistics that know the rows."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from services.store.embedded import (
    AUTOVACUUM_NAPTIME,
    release_embedded_postgres,
    start_embedded_postgres,
)


async def test_a_filled_table_is_analyzed_within_seconds(tmp_path: Path) -> None:
    dsn = start_embedded_postgres(tmp_path, delete_on_exit=True)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SHOW autovacuum_naptime") == AUTOVACUUM_NAPTIME
        await conn.execute("CREATE TABLE filled (n int)")
        await conn.execute("INSERT INTO filled SELECT generate_series(1, 2000)")
        deadline = time.monotonic() + 30  # autovacuum's default naptime is a minute
        while True:
            analyzed = await conn.fetchval(
                "SELECT last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'filled'"
            )
            if analyzed is not None:
                break
            assert time.monotonic() < deadline, "the table was not analyzed within 30 s"
            await asyncio.sleep(0.2)
        assert (
            await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'filled'") == 2000
        )
    finally:
        await conn.close()
        release_embedded_postgres(tmp_path)
