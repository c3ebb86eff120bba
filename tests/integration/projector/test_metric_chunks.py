"""Metric points stored as chunks: one row per series and batch, read point by point through the
`metrics` view, with the latest value and the migration of rows stored before chunks."""

from __future__ import annotations

import math

import asyncpg

from schemas import MetricsLogged, RunDeleted
from services.store.migrate import apply_set, migrations
from services.store.pool import CORE_SCHEMA
from tests.support.projecting import Projecting


async def points(conn: asyncpg.Connection, run_id: str, key: str) -> list[tuple]:
    """The series as the view shows it, in the order its points were logged."""
    rows = await conn.fetch(
        "SELECT m.step, m.timestamp, m.value, m.model_id, m.dataset_name FROM metrics m "
        "JOIN runs USING (run_key) JOIN metric_keys USING (key_id) "
        "WHERE run_id = $1 AND key = $2",
        run_id,
        key,
    )
    return [tuple(r) for r in rows]


def logged(run_id: str, rows: list[tuple], **columns) -> MetricsLogged:
    keys, values, steps = zip(*rows, strict=True)
    return MetricsLogged.from_columns(
        run_id,
        keys=list(keys),
        values=list(values),
        timestamps=[1000 + s for s in steps],
        steps=list(steps),
        **columns,
    )


async def test_a_batch_becomes_one_chunk_per_series(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        project = Projecting(conn)
        a, b = await project.run(), await project.run()
        await project.batch(
            logged(a, [("loss", 0.9, 3), ("acc", 0.1, 3), ("loss", 0.8, 1)]),
            logged(b, [("loss", 0.5, 0)]),
            logged(a, [("loss", 0.7, 2)]),
        )
        assert await conn.fetchval("SELECT count(*) FROM metric_chunks") == 3
        # logged order is kept across the batch's events (steps deliberately not sorted)
        assert await points(conn, a, "loss") == [
            (3, 1003, 0.9, None, None),
            (1, 1001, 0.8, None, None),
            (2, 1002, 0.7, None, None),
        ]
        await project.batch(logged(a, [("loss", 0.6, 4)]))
        assert await conn.fetchval("SELECT count(*) FROM metric_chunks") == 4
        assert [p[0] for p in await points(conn, a, "loss")] == [3, 1, 2, 4]
        assert await points(conn, b, "loss") == [(0, 1000, 0.5, None, None)]


async def test_one_batch_decides_every_kind_of_metrics_event(pool: asyncpg.Pool) -> None:
    """Runs, batch digests and key ids are found in one statement: each event still gets its
    own verdict, and only accepted ones leave points."""
    async with pool.acquire() as conn:
        project = Projecting(conn)
        active, deleted, retried = await project.run(), await project.run(), await project.run()
        await project.batch(logged(retried, [("loss", 0.5, 0)]), RunDeleted(run_id=deleted))
        missing = "f" * 32
        twice = logged(active, [("loss", 0.9, 1), ("fresh-key", 0.1, 1)])
        verdicts = await project.verdicts(
            twice,
            logged(missing, [("loss", 0.1, 0)]),
            logged(deleted, [("loss", 0.2, 0)]),
            logged(retried, [("loss", 0.5, 0)]),  # applied by the batch before
            twice,  # the same points again in this batch
            logged(active, [("other-key", 0.3, 2)]),
        )
        assert [(v.accepted, v.error_code, v.outcome) for v in verdicts] == [
            (True, None, None),
            (False, "RESOURCE_DOES_NOT_EXIST", None),
            (False, "INVALID_PARAMETER_VALUE", None),
            (True, None, {"duplicate_batch": True}),
            (True, None, {"duplicate_batch": True}),
            (True, None, None),
        ]
        assert verdicts[1].reason == f"Run with id={missing} not found"
        assert "must be in the 'active' state. Current state is deleted." in verdicts[2].reason
        assert await points(conn, active, "loss") == [(1, 1001, 0.9, None, None)]
        assert await points(conn, active, "fresh-key") == [(1, 1001, 0.1, None, None)]
        assert await points(conn, active, "other-key") == [(2, 1002, 0.3, None, None)]
        assert await points(conn, retried, "loss") == [(0, 1000, 0.5, None, None)]
        assert await points(conn, deleted, "loss") == []
        assert await conn.fetchval("SELECT count(*) FROM metric_batches") == 3


async def test_model_and_dataset_columns_split_series(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        project = Projecting(conn)
        run = await project.run()
        await project.batch(
            logged(
                run,
                [("loss", 0.9, 0), ("loss", 0.8, 1), ("loss", 0.7, 2)],
                model_ids=["m-1", None, "m-1"],
                dataset_names=["train", None, "train"],
                dataset_digests=["d1", None, "d1"],
            )
        )
        chunks = await conn.fetch(
            "SELECT model_id, dataset_digest, steps FROM metric_chunks ORDER BY model_id"
        )
        assert [tuple(c) for c in chunks] == [("m-1", "d1", [0, 2]), (None, None, [1])]
        by_model = await conn.fetch("SELECT step FROM metrics WHERE model_id = 'm-1' ORDER BY 1")
        assert [r[0] for r in by_model] == [0, 2]


async def test_latest_value_ranks_nan_as_zero_and_keeps_the_first_of_a_tie(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        project = Projecting(conn)
        run = await project.run()
        await project.batch(
            logged(run, [("a", 0.5, 7), ("a", 0.2, 9), ("a", math.nan, 9), ("b", math.nan, 1)]),
        )
        await project.batch(logged(run, [("a", -0.1, 9), ("b", -1.0, 1)]))
        latest = {
            r["key"]: (r["step"], r["value"])
            for r in await conn.fetch(
                "SELECT key, step, value FROM latest_metrics JOIN metric_keys USING (key_id)"
            )
        }
        # a: at step 9, 0.2 beats NaN (ranked 0) and -0.1; b: NaN (0) beats -1.0 at the same step
        assert latest["a"] == (9, 0.2)
        assert latest["b"][0] == 1 and math.isnan(latest["b"][1])
        await project.batch(logged(run, [("b", 0.0, 1)]))  # ties NaN's rank: the first stays
        value = await conn.fetchval(
            "SELECT value FROM latest_metrics JOIN metric_keys USING (key_id) WHERE key = 'b'"
        )
        assert math.isnan(value)


async def test_rows_stored_before_chunks_are_migrated(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        chunked = next(m for m in migrations("readmodel") if m.name == "metric_chunks")
        async with conn.transaction():
            await apply_set(conn, "core", CORE_SCHEMA)
            # the read models as they were before chunks
            await conn.execute("CREATE SCHEMA readmodel")
            await conn.execute(f"SET LOCAL search_path = readmodel, {CORE_SCHEMA}, public")
            for migration in migrations("readmodel"):
                if migration.version < chunked.version:
                    await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO metrics (run_key, key_id, step, timestamp, value, model_id) "
                "SELECT 1, k, s, 1000 + s, s * 0.5, CASE WHEN s % 2 = 0 THEN 'm' END "
                "FROM generate_series(1, 2) k, generate_series(0, 24999) s"
            )
            before = await conn.fetch(
                "SELECT key_id, step, timestamp, value, model_id FROM metrics ORDER BY 1, 2"
            )
            await conn.execute(chunked.sql)
            after = await conn.fetch(
                "SELECT key_id, step, timestamp, value, model_id FROM metrics ORDER BY 1, 2"
            )
            assert [tuple(r) for r in after] == [tuple(r) for r in before]
            # up to 10,000 steps per chunk, per series (key, model)
            assert await conn.fetchval("SELECT count(*) FROM metric_chunks") == 2 * 2 * 3
            assert await conn.fetchval("SELECT to_regclass('metrics_rows')") is None
            kind = await conn.fetchval(
                "SELECT relkind FROM pg_class WHERE oid = 'readmodel.metrics'::regclass"
            )
            assert kind == b"v"
            # the BI view of the history now reads the view, with its comment brought up to date
            read = await conn.fetch(
                "SELECT DISTINCT d.refobjid::regclass::text AS relation FROM pg_rewrite w "
                "JOIN pg_depend d ON d.objid = w.oid "
                "WHERE w.ev_class = 'bi_v1.metric_history'::regclass AND d.refobjid <> w.ev_class"
            )
            assert {r["relation"] for r in read} >= {"metrics", "runs", "metric_keys"}
            about = await conn.fetchval("SELECT obj_description('bi_v1.metric_history'::regclass)")
            assert "(run, key) is the index" in about
    finally:
        await conn.close()
