"""Open the database a process should use: the configured one, or the embedded server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.settings import CoreSettings
from services.store.embedded import release_embedded_postgres, start_embedded_postgres
from services.store.migrate import upgrade
from services.store.pool import create_pool


@dataclass
class Database:
    dsn: str
    pool: asyncpg.Pool
    embedded_dir: Path | None = None
    """The data directory whose embedded PostgreSQL this process holds, if any."""

    async def close(self) -> None:
        await self.pool.close()
        if self.embedded_dir is not None:
            release_embedded_postgres(self.embedded_dir)


def resolve_dsn(core: CoreSettings) -> str:
    if core.database_url is not None:
        return core.database_url.get_secret_value()
    return start_embedded_postgres(core.data_dir)


async def open_database(core: CoreSettings, *, migrate: bool = True) -> Database:
    """Connect (starting embedded PostgreSQL if no URL is set) and apply pending migrations."""
    dsn = resolve_dsn(core)
    if migrate:
        conn = await asyncpg.connect(dsn)
        try:
            await upgrade(conn)
        finally:
            await conn.close()
    pool = await create_pool(
        dsn,
        min_size=core.db_pool_min,
        max_size=core.db_pool_max,
    )
    embedded = None if core.database_url is not None else Path(core.data_dir)
    return Database(dsn=dsn, pool=pool, embedded_dir=embedded)
