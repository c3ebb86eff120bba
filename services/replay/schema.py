"""Read-model schemas: create a fresh one beside the live one, retire and swap them."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from services.store.migrate import apply_set
from services.store.pool import READ_SCHEMA

SWAP_CHANNEL = "ledgerflow_readmodel_swapped"


def quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


async def schema_exists(conn: asyncpg.Connection, schema: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema))


async def create_fresh(conn: asyncpg.Connection, schema: str) -> None:
    """An empty read-model schema at the current migration level, plus `seen_events`."""
    async with conn.transaction():
        await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")
        await apply_set(conn, "readmodel", schema)
        await conn.execute(f"CREATE TABLE {quoted(schema)}.seen_events (event_id uuid PRIMARY KEY)")


async def drop(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE")


async def swap_in(conn: asyncpg.Connection, rebuilt: str) -> str:
    """Rename the live schema aside and the rebuilt one into its place (inside the caller's
    transaction, so readers see one or the other, never neither). Returns the retired name."""
    retired = f"{READ_SCHEMA}_retired_{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
    await conn.execute(f"ALTER SCHEMA {quoted(READ_SCHEMA)} RENAME TO {quoted(retired)}")
    await conn.execute(f"ALTER SCHEMA {quoted(rebuilt)} RENAME TO {quoted(READ_SCHEMA)}")
    await conn.execute(f"DROP TABLE {quoted(READ_SCHEMA)}.seen_events")
    # Servers drop their pooled connections on this (delivered at commit). Cached statements
    # elsewhere, the projector's, are analysed again by PostgreSQL after the rename.
    await conn.execute("SELECT pg_notify($1, $2)", SWAP_CHANNEL, retired)
    return retired
