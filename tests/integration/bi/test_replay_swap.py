"""The BI views survive a replay swap: afterwards they read the rebuilt tables (not the retired
ones), for a reader connection that stayed open as for a new one, with their grants and
comments, and the retired schema can be dropped without taking them along."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from schemas import ModelAliasSet, RunCreated
from services.bi.catalogue import describe
from services.node import Node
from services.replay import runner
from services.replay.schema import create_fresh
from services.replay.sources import AuditSource
from services.settings import CoreSettings
from services.store.pool import connect
from tests.integration.bi.conftest import drop_reader, make_reader
from tests.integration.bi.data import T0, ev, fill

COUNTS = """SELECT (SELECT count(*) FROM bi_v1.runs) AS runs,
                   (SELECT count(*) FROM bi_v1.metric_history) AS points,
                   (SELECT count(*) FROM bi_v1.model_version_aliases) AS aliases,
                   (SELECT count(*) FROM bi_v1.registry_history) AS events,
                   (SELECT count(*) FROM bi_v1.promotions) AS promotions"""


@pytest.fixture
async def node(db_dsn: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    core = CoreSettings(
        data_dir=tmp_path, database_url=SecretStr(db_dsn), topic_prefix="bs", data_partitions=3
    )
    node = Node(core, verdict_timeout=60)
    await node.start()
    yield node
    await node.close()


async def bound_to(admin: asyncpg.Connection, schema: str) -> list[str]:
    """The BI views that read a table of ``schema``."""
    rows = await admin.fetch(
        """SELECT DISTINCT v.relname
             FROM pg_depend d
             JOIN pg_rewrite w ON w.oid = d.objid
             JOIN pg_class v ON v.oid = w.ev_class
             JOIN pg_namespace vn ON vn.oid = v.relnamespace
             JOIN pg_class t ON t.oid = d.refobjid
             JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
              AND vn.nspname = 'bi_v1' AND tn.nspname = $1 AND t.oid <> v.oid
            ORDER BY 1""",
        schema,
    )
    return [r[0] for r in rows]


async def test_the_views_follow_a_replay_swap(node: Node, db_dsn: str) -> None:
    facts = await fill(node, points=50)
    reader = await make_reader(db_dsn)
    admin = await connect(db_dsn)
    staying = await reader.connect()  # stays open across the swap, as a BI tool's pool does
    try:
        before = dict(await staying.fetchrow(COUNTS))
        prepared = await staying.prepare("SELECT count(*) FROM bi_v1.runs")
        assert await prepared.fetchval() == len(facts.runs)
        catalogue_before = await describe(admin)
        assert len(await bound_to(admin, "readmodel")) >= 10

        schema = f"rebuilt_{uuid.uuid4().hex[:6]}"
        await create_fresh(admin, schema)
        # the rebuild is applied to the fresh schema too, but bi_v1 keeps reading the live one
        assert await bound_to(admin, schema) == []
        conn = await runner.connect_to(db_dsn, schema)
        try:
            await runner.replay(conn, schema, AuditSource(conn))
            result = await runner.catch_up_and_swap(admin, conn, schema)
        finally:
            await conn.close()
        assert result.swapped, result.comparison.samples
        retired = result.retired
        assert retired is not None

        # bound to the rebuilt tables (now named readmodel), none to the retired ones
        assert await bound_to(admin, retired) == []
        assert len(await bound_to(admin, "readmodel")) >= 10
        assert await describe(admin) == catalogue_before  # columns, types, comments

        # the same answers, on the open connection (its prepared statement too) and a new one
        assert dict(await staying.fetchrow(COUNTS)) == before
        assert await prepared.fetchval() == len(facts.runs)
        fresh = await reader.connect()
        try:
            assert dict(await fresh.fetchrow(COUNTS)) == before
        finally:
            await fresh.close()

        # what is written after the swap shows through the views at once
        run_id = uuid.uuid4().hex
        await node.submit(
            [
                ev(
                    RunCreated(
                        run_id=run_id,
                        experiment_id=str(facts.vision),
                        user_id="alice",
                        run_name="after-swap",
                        start_time=T0,
                        artifact_uri="x",
                    )
                ),
                ev(ModelAliasSet(name=facts.model, alias="after", version=2)),
            ]
        )
        assert await prepared.fetchval() == len(facts.runs) + 1
        assert (
            await staying.fetchval("SELECT run_name FROM bi_v1.runs WHERE run_id = $1", run_id)
            == "after-swap"
        )
        assert (
            await staying.fetchval(
                "SELECT alias_version_after FROM bi_v1.registry_history "
                "WHERE event_type = 'model_alias.set' AND alias = 'after'"
            )
            == 2
        )

        # dropping the retired schema leaves the views alone
        await admin.execute(f'DROP SCHEMA "{retired}" CASCADE')
        assert [v.name for v in await describe(admin)] == [v.name for v in catalogue_before]
        assert await staying.fetchval("SELECT count(*) FROM bi_v1.runs") == len(facts.runs) + 1
        assert await staying.fetchval("SELECT count(*) FROM bi_v1.promotions") == (
            before["promotions"] + 1
        )
    finally:
        await staying.close()
        await admin.close()
        await drop_reader(reader)


async def test_busy_readers_do_not_hold_the_swap_up(node: Node, db_dsn: str) -> None:
    """The swap replaces the views under an exclusive lock while live projection waits: a
    reader's long query is cancelled and a session idle in a transaction is ended, rather than
    pausing every writer until they finish."""
    facts = await fill(node, points=10)
    reader = await make_reader(db_dsn)
    admin = await connect(db_dsn)
    idle = await reader.connect()
    busy = await reader.connect()
    try:
        transaction = idle.transaction()
        await transaction.start()
        assert await idle.fetchval("SELECT count(*) FROM bi_v1.runs") == len(facts.runs)
        long_query = asyncio.create_task(
            busy.fetchval("SELECT count(*) FROM bi_v1.runs, pg_sleep(60)")
        )
        await asyncio.sleep(0.5)  # it holds its lock on the view now

        schema = f"rebuilt_{uuid.uuid4().hex[:6]}"
        await create_fresh(admin, schema)
        conn = await runner.connect_to(db_dsn, schema)
        began = time.monotonic()
        try:
            await runner.replay(conn, schema, AuditSource(conn))
            result = await runner.catch_up_and_swap(admin, conn, schema)
        finally:
            await conn.close()
        assert result.swapped
        assert time.monotonic() - began < 30

        with pytest.raises(asyncpg.QueryCanceledError):
            await long_query
        with pytest.raises((asyncpg.InterfaceError, asyncpg.PostgresConnectionError)):
            await idle.fetchval("SELECT 1")  # its session was ended
        assert await busy.fetchval("SELECT count(*) FROM bi_v1.runs") == len(facts.runs)
    finally:
        idle.terminate()
        await busy.close()
        await admin.close()
        await drop_reader(reader)
