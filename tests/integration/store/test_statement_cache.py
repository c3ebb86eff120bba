"""The projector keeps prepared statements across batches (asyncpg's statement cache), and a
replay's swap renames the read-model schemas under them: the next batch must write to the tables
now named on the search path, not to the retired ones its statements were prepared against."""

from __future__ import annotations

import asyncpg

from schemas import ExperimentCreated, MetricsLogged
from services.projector.batch import SWAP_LOCK
from services.replay.schema import create_fresh, swap_in
from tests.support.projecting import Projecting


def point(run_id: str, step: int) -> MetricsLogged:
    return MetricsLogged(run_id=run_id, keys=["loss"], values=[0.5], timestamps=[1], steps=[step])


async def steps_in(admin: asyncpg.Connection, schema: str) -> list[int]:
    rows = await admin.fetch(
        f"SELECT m.step FROM {schema}.metrics m JOIN {schema}.metric_keys USING (key_id) "
        "WHERE key = 'loss' ORDER BY m.step"
    )
    return [r["step"] for r in rows]


async def test_cached_statements_follow_a_schema_swap(pool: asyncpg.Pool, db_dsn: str) -> None:
    admin = await asyncpg.connect(db_dsn)
    try:
        async with pool.acquire() as conn:
            project = Projecting(conn)
            first = await project.run()
            await project.batch(point(first, 0))
            await project.batch(point(first, 1))
            prepared = await conn.fetchval(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement ILIKE '%metric%'"
            )
            assert prepared > 0, "the projector's statements are kept prepared"

            await create_fresh(admin, "rebuilt")  # empty: it knows no experiment and no run
            async with admin.transaction():
                await admin.execute("SELECT pg_advisory_xact_lock($1)", SWAP_LOCK)
                retired = await swap_in(admin, "rebuilt")

            # the same prepared statements now find the (empty) swapped-in read model
            [refused] = await project.verdicts(point(first, 2))
            assert (refused.accepted, refused.error_code) == (False, "RESOURCE_DOES_NOT_EXIST")
            await project.batch(
                ExperimentCreated(experiment_id="1", name="e", artifact_location="/a")
            )
            second = await project.run()
            await project.batch(point(second, 7))
        assert await steps_in(admin, "readmodel") == [7]
        assert await steps_in(admin, retired) == [0, 1]
    finally:
        await admin.close()
