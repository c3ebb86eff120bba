"""Keep the BI views on the live read-model tables across a replay swap.

A view is bound to the tables it was created on by their ids, not their names. A replay swap
renames `readmodel` aside and the rebuilt schema into its place, so without help every bi_v*
view would keep reading the retired tables (and `DROP SCHEMA <retired> CASCADE` would drop the
views). ``follow_swap`` reads each view's definition before the renames, with every table
name schema-qualified, and runs it again afterwards (CREATE OR REPLACE VIEW) in the same
transaction: the names now mean the rebuilt tables, while the view keeps its identity, grants
and comments, and cached plans that used it are invalidated.

Replacing a view takes an exclusive lock on it, and the swap holds the lock that pauses live
projection: a reader's long query, or a BI tool idle inside a transaction, must not hold the
swap (and every writer waiting for a verdict) up. So before the renames the views are locked at
once, after cancelling the statements of reader roles that hold them (and ending their sessions
left idle in a transaction); a lock still not granted after ``LOCK_TIMEOUT`` (another role's)
fails the swap, which can be tried again (`ledgerflow replay --resume`). Readers' queries that
arrive meanwhile wait for the swap to commit, a moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from services.bi import BI_SCHEMA_PATTERN, READER_GROUP

LOCK_TIMEOUT = "10s"


@dataclass(frozen=True, slots=True)
class ViewDefinition:
    schema: str
    name: str
    query: str
    options: list[str] | None

    def create_or_replace(self) -> str:
        name = f"{_quoted(self.schema)}.{_quoted(self.name)}"
        options = f" WITH ({', '.join(self.options)})" if self.options else ""
        return f"CREATE OR REPLACE VIEW {name}{options} AS {self.query}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@asynccontextmanager
async def _catalog_only(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """pg_catalog alone on the search path, in a savepoint of the caller's transaction (or a
    transaction of its own), and the path as it was afterwards: a transaction-local setting
    outlives a released savepoint (a rolled-back one takes it back)."""
    async with conn.transaction():
        previous = await conn.fetchval("SELECT current_setting('search_path')")
        await conn.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        yield
        await conn.execute("SELECT set_config('search_path', $1, true)", previous)


async def definitions(conn: asyncpg.Connection) -> list[ViewDefinition]:
    """Every BI view's query as PostgreSQL prints it, in creation order (so a view comes after
    the views it reads). With only pg_catalog on the search path, every other name is printed
    schema-qualified (`readmodel.runs`)."""
    async with _catalog_only(conn):
        rows = await conn.fetch(
            """SELECT n.nspname AS schema, c.relname AS name,
                      pg_get_viewdef(c.oid) AS query, c.reloptions AS options
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname ~ $1 AND c.relkind = 'v'
                ORDER BY c.oid""",
            BI_SCHEMA_PATTERN,
        )
    return [ViewDefinition(r["schema"], r["name"], r["query"], r["options"]) for r in rows]


async def recreate(conn: asyncpg.Connection, views: list[ViewDefinition]) -> None:
    async with _catalog_only(conn):
        for view in views:
            await conn.execute(view.create_or_replace())


async def take(conn: asyncpg.Connection, views: list[ViewDefinition]) -> None:
    """Lock ``views`` for the rest of the caller's transaction, clearing readers out of the way."""
    if not views:
        return
    names = [f"{_quoted(v.schema)}.{_quoted(v.name)}" for v in views]
    # Only readers' sessions, and only where this role may signal them (a superuser, or a
    # member of pg_signal_backend); a statement of any other role is waited for.
    await conn.execute(
        """SELECT CASE WHEN a.state LIKE 'idle in transaction%'
                       THEN pg_terminate_backend(a.pid) ELSE pg_cancel_backend(a.pid) END
             FROM (SELECT DISTINCT pid FROM pg_locks
                    WHERE relation = ANY($1::regclass[]) AND pid <> pg_backend_pid()) l
             JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                           WHERE m.member = a.usesysid AND g.rolname = $2)
              AND ((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                   OR pg_has_role('pg_signal_backend', 'MEMBER'))""",
        names,
        READER_GROUP,
    )
    previous = await conn.fetchval("SELECT current_setting('lock_timeout')")
    await conn.execute("SELECT set_config('lock_timeout', $1, true)", LOCK_TIMEOUT)
    await conn.execute(f"LOCK TABLE {', '.join(names)} IN ACCESS EXCLUSIVE MODE")
    await conn.execute("SELECT set_config('lock_timeout', $1, true)", previous)


@asynccontextmanager
async def follow_swap(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Around the schema renames of a swap, inside its transaction: the BI views read the
    schema named `readmodel` after it, as they did before it."""
    views = await definitions(conn)
    await take(conn, views)
    yield
    await recreate(conn, views)
