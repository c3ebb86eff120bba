"""asyncpg pools: one per process, created in the app's lifespan, with the codecs we rely on."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

CORE_SCHEMA = "ledgerflow"
READ_SCHEMA = "readmodel"


def _json_encode(value: Any) -> str:
    return orjson.dumps(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb in and out as Python objects via orjson; read models first on the search path."""
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_json_encode, decoder=orjson.loads, format="text"
    )
    await conn.set_type_codec(
        "json", schema="pg_catalog", encoder=_json_encode, decoder=orjson.loads, format="text"
    )


def server_settings(read_schema: str = READ_SCHEMA) -> dict[str, str]:
    return {
        "search_path": f"{read_schema},{CORE_SCHEMA},public",
        "application_name": "ledgerflow",
    }


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections keep their prepared statements (asyncpg's statement cache), the
    projector's too: without it every statement costs a second round trip to be prepared, which
    was more than half of a lone event's transaction. A replay's swap renames schemas, and
    PostgreSQL analyses a cached statement again after any schema rename, so the projector's
    next batch writes to the tables now on the search path (tests/integration/store/
    test_statement_cache.py)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init_connection,
        server_settings=server_settings(),
        reset=keep_session,
    )
    assert pool is not None
    return pool


async def keep_session(conn: asyncpg.Connection) -> None:
    """What a released connection needs beyond asyncpg's own release work (which rolls back a
    transaction left open and drops the connection's listeners): nothing. asyncpg's default
    would send ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release,
    a round trip for each query run on the pool itself, to undo session state that ledgerflow
    never leaves on a pooled connection: its settings and advisory locks are transaction-scoped
    (``set_config(..., true)``, ``pg_advisory_xact_lock``), its cursors live in transactions,
    and its LISTENs have connections of their own (tests/integration/store/test_pool.py)."""


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection set up like the pool's, for CLI commands and listeners."""
    conn = await asyncpg.connect(dsn, server_settings=server_settings())
    await init_connection(conn)
    return conn
