"""The projector keeps prepared statements across batches (asyncpg's statement cache), and a
replay's swap renames the read-model schemas under them: the next batch must write to the tables
now named on the search path, not to the retired ones its statements were prepared against."""

from __future__ import annotations

import uuid

import asyncpg

from schemas import ExperimentCreated, MetricsLogged, Payload, RunCreated, encode, new_event
from services.log.base import LogRecord
from services.projector.batch import SWAP_LOCK, project_batch
from services.projector.verdict import Verdict
from services.replay.schema import create_fresh, swap_in
from tests.samples import TEST_ACTOR


async def no_deadletters(letters) -> None:
    raise AssertionError(f"unexpected dead letters: {letters}")


class Batches:
    """One event per batch through project_batch on one connection, at consecutive offsets."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.offset = 0

    async def apply(self, payload: Payload) -> Verdict:
        record = LogRecord(
            "t.data",
            0,
            self.offset,
            b"k",
            encode(new_event(payload, actor=TEST_ACTOR, source="test")),
            0,
        )
        self.offset += 1
        result = await project_batch(
            self.conn, [record], consumer="test", deadletter=no_deadletters
        )
        [verdict] = result.verdicts.values()
        return verdict


def created(run_id: str) -> RunCreated:
    return RunCreated(
        run_id=run_id,
        experiment_id="1",
        user_id="u",
        run_name=run_id[:6],
        start_time=1,
        artifact_uri="/a",
    )


def point(run_id: str, step: int) -> MetricsLogged:
    return MetricsLogged(run_id=run_id, keys=["loss"], values=[0.5], timestamps=[1], steps=[step])


async def steps_in(admin: asyncpg.Connection, schema: str) -> list[int]:
    rows = await admin.fetch(
        f"SELECT m.step FROM {schema}.metrics m JOIN {schema}.metric_keys USING (key_id) "
        "WHERE key = 'loss' ORDER BY m.step"
    )
    return [r["step"] for r in rows]


async def test_cached_statements_follow_a_schema_swap(pool: asyncpg.Pool, db_dsn: str) -> None:
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    admin = await asyncpg.connect(db_dsn)
    try:
        async with pool.acquire() as conn:
            batches = Batches(conn)
            for payload in (
                ExperimentCreated(experiment_id="1", name="e", artifact_location="/a"),
                created(first),
                point(first, 0),
                point(first, 1),
            ):
                assert (await batches.apply(payload)).accepted
            prepared = await conn.fetchval(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement ILIKE '%metric%'"
            )
            assert prepared > 0, "the projector's statements are kept prepared"

            await create_fresh(admin, "rebuilt")  # empty: it knows no experiment and no run
            async with admin.transaction():
                await admin.execute("SELECT pg_advisory_xact_lock($1)", SWAP_LOCK)
                retired = await swap_in(admin, "rebuilt")

            # the same prepared statements now find the (empty) swapped-in read model
            refused = await batches.apply(point(first, 2))
            assert (refused.accepted, refused.error_code) == (False, "RESOURCE_DOES_NOT_EXIST")
            for payload in (
                ExperimentCreated(experiment_id="1", name="e", artifact_location="/a"),
                created(second),
                point(second, 7),
            ):
                assert (await batches.apply(payload)).accepted
        assert await steps_in(admin, "readmodel") == [7]
        assert await steps_in(admin, retired) == [0, 1]
    finally:
        await admin.close()
