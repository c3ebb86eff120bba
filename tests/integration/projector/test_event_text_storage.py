"""Event text is stored out of line without compression (migration core/0005), byte for byte."""

from __future__ import annotations

import random
import uuid

import asyncpg

from schemas import ExperimentCreated, MetricsLogged, RunCreated, encode, new_event
from services.log.base import LogRecord, TopicLayout
from services.log.embedded import EmbeddedEventLog
from services.projector.batch import project_batch
from tests.samples import TEST_ACTOR
from tests.support.projecting import no_deadletters


def metrics_event(run_id: str) -> bytes:
    steps = list(range(1000))
    payload = MetricsLogged.from_columns(
        run_id,
        [f"m{i % 10}" for i in steps],
        [random.random() for _ in steps],
        [1_700_000_000_000 + s for s in steps],
        steps,
    )
    return encode(new_event(payload, actor=TEST_ACTOR, source="test"))


async def test_audit_rows_keep_metrics_events_uncompressed(pool: asyncpg.Pool) -> None:
    run_id = uuid.uuid4().hex
    setup = [
        ExperimentCreated(experiment_id="1", name="e", artifact_location="/x"),
        RunCreated(
            run_id=run_id,
            experiment_id="1",
            user_id="u",
            run_name="r",
            start_time=1,
            artifact_uri="/a",
        ),
    ]
    values = [encode(new_event(p, actor=TEST_ACTOR, source="test")) for p in setup]
    values.append(metrics_event(run_id))
    records = [LogRecord("t.data", 0, i, b"k", v, 0) for i, v in enumerate(values)]
    async with pool.acquire() as conn:
        for batch in (records[:2], records[2:]):  # the run exists before its points arrive
            result = await project_batch(conn, batch, consumer="t", deadletter=no_deadletters)
            assert all(v.accepted for v in result.verdicts.values()), result.verdicts
        row = await conn.fetchrow(
            "SELECT event, pg_column_compression(event) AS codec, pg_column_size(event) AS stored "
            "FROM audit_log WHERE event_type = 'metrics.logged'"
        )
    assert row["event"].encode() == values[-1]
    assert row["codec"] is None, "pglz would cost PostgreSQL more CPU than the rest of the batch"
    assert row["stored"] >= len(values[-1]) > 40_000


async def test_the_embedded_log_keeps_record_values_uncompressed(
    pool: asyncpg.Pool, db_dsn: str
) -> None:
    layout = TopicLayout(prefix=f"t{uuid.uuid4().hex[:10]}", data_partitions=1)
    event_log = EmbeddedEventLog(pool, db_dsn, layout)
    await event_log.start()
    try:
        value = metrics_event(uuid.uuid4().hex)
        await event_log.append(layout.data, [(b"run", value)])
    finally:
        await event_log.close()
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT value, pg_column_compression(value) AS codec FROM event_log WHERE topic = $1",
            layout.data,
        )
    assert bytes(row["value"]) == value
    assert row["codec"] is None
