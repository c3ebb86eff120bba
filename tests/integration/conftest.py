"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.store.migrate import upgrade
from services.store.pool import create_pool


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's fresh database, migrated."""
    pool = await create_pool(db_dsn, max_size=8)
    async with pool.acquire() as conn:
        await upgrade(conn)
    yield pool
    await pool.close()
