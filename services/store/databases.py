"""Databases on a PostgreSQL server: create or drop one by name, and the DSN that reaches it."""

from __future__ import annotations

import asyncpg


def database_dsn(server_dsn: str, name: str) -> str:
    """``server_dsn`` with its database replaced by ``name`` (query options kept)."""
    base, _, query = server_dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}" + (f"?{query}" if query else "")


async def create_database(server_dsn: str, name: str) -> str:
    """Create the (empty) database ``name``; its DSN."""
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_dsn(server_dsn, name)


async def drop_database(server_dsn: str, name: str) -> None:
    """Drop ``name`` if it exists, disconnecting whoever is still connected."""
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
