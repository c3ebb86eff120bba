"""Numbered .sql migrations: `core` (event log, audit log, positions) and `readmodel` sets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from services.store.pool import CORE_SCHEMA, READ_SCHEMA

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(set_name: str) -> list[Migration]:
    """The migrations of one set, in version order."""
    folder = resources.files("services.store") / "migrations" / set_name
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {set_name}: {versions}")
    return found


async def apply_set(conn: asyncpg.Connection, set_name: str, schema: str) -> list[str]:
    """Apply the pending migrations of ``set_name`` inside ``schema``; the caller holds a tx."""
    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await conn.execute(
        f"""CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations (
                version    int PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"""
    )
    done = {
        r["version"] for r in await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
    }
    applied = []
    for migration in migrations(set_name):
        if migration.version in done:
            continue
        await conn.execute(f'SET LOCAL search_path = "{schema}", {CORE_SCHEMA}, public')
        await conn.execute(migration.sql)
        await conn.execute(
            f'INSERT INTO "{schema}".schema_migrations (version, name) VALUES ($1, $2)',
            migration.version,
            migration.name,
        )
        applied.append(f"{set_name}/{migration.version:04d}_{migration.name}")
    return applied


async def upgrade(conn: asyncpg.Connection) -> list[str]:
    """Bring the core schema and the live read-model schema up to date; idempotent, serialised."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ledgerflow.migrate'))")
        applied = await apply_set(conn, "core", CORE_SCHEMA)
        applied += await apply_set(conn, "readmodel", READ_SCHEMA)
    return applied
