"""Following a read-model swap: drop pooled connections, so that readers start from fresh
sessions on the swapped-in schema. PostgreSQL already analyses cached statements again after a
schema rename (tests/integration/store/test_statement_cache.py); reconnecting also spares a
reader's statements the one-off "cached plan must not change result type" error when the
rebuilt tables differ in shape."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from services.replay.schema import SWAP_CHANNEL

log = logging.getLogger(__name__)


class SwapWatcher:
    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(SWAP_CHANNEL, self._on_swap)

    def _on_swap(self, _conn: object, _pid: int, _channel: str, retired: str) -> None:
        log.info("read models swapped (the previous ones are now %s); reconnecting", retired)
        asyncio.get_running_loop().create_task(self._pool.expire_connections())

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()
