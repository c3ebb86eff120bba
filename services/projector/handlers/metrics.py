"""Metrics: the full history (COPY per batch) and the latest value per key (one upsert per batch).

A retried batch is recognised by its digest (run + points) and applied once. The latest value is
the max of (step, timestamp, value) with NaN ranking as 0, as MLflow's SQL store does, so the
projection is independent of the order in which batches arrive.
"""

from __future__ import annotations

import hashlib
import math

import asyncpg
import orjson

from schemas import Envelope, MetricPoint, MetricsLogged
from services.projector.handlers.common import active_run
from services.projector.projections import projects
from services.projector.verdict import Verdict

METRIC_COLUMNS = (
    "run_key",
    "key_id",
    "step",
    "timestamp",
    "value",
    "model_id",
    "dataset_name",
    "dataset_digest",
)

_LATEST = """
INSERT INTO latest_metrics AS l
       (run_key, key_id, step, timestamp, value, model_id, dataset_name, dataset_digest)
SELECT $1, t.* FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::float8[],
                           $6::text[], $7::text[], $8::text[]) AS t
ON CONFLICT (run_key, key_id) DO UPDATE
   SET step = EXCLUDED.step, timestamp = EXCLUDED.timestamp, value = EXCLUDED.value,
       model_id = EXCLUDED.model_id, dataset_name = EXCLUDED.dataset_name,
       dataset_digest = EXCLUDED.dataset_digest
 WHERE (EXCLUDED.step, EXCLUDED.timestamp,
        CASE WHEN EXCLUDED.value = 'NaN' THEN 0 ELSE EXCLUDED.value END)
     > (l.step, l.timestamp, CASE WHEN l.value = 'NaN' THEN 0 ELSE l.value END)"""


def batch_digest(run_id: str, points: list[tuple[str, int, int, float, str | None]]) -> bytes:
    """The batch's identity: a retried request carries the same points in the same order."""
    canonical = orjson.dumps([run_id, [[k, s, t, repr(v), m] for k, s, t, v, m in points]])
    return hashlib.sha256(canonical).digest()[:16]


async def metric_key_ids(conn: asyncpg.Connection, keys: list[str]) -> dict[str, int]:
    rows = await conn.fetch("SELECT key, key_id FROM metric_keys WHERE key = ANY($1::text[])", keys)
    ids = {r[0]: r[1] for r in rows}
    missing = [k for k in keys if k not in ids]
    if missing:
        await conn.execute(
            "INSERT INTO metric_keys (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            missing,
        )
        rows = await conn.fetch(
            "SELECT key, key_id FROM metric_keys WHERE key = ANY($1::text[])", missing
        )
        ids.update({r[0]: r[1] for r in rows})
    return ids


def _rank(step: int, timestamp: int, value: float) -> tuple[int, int, float]:
    return (step, timestamp, 0.0 if math.isnan(value) else value)


@projects("metrics.logged")
async def logged(conn: asyncpg.Connection, event: Envelope) -> Verdict | None:
    payload = event.payload
    assert isinstance(payload, MetricsLogged)
    run = await active_run(conn, payload.run_id)
    points = payload.metrics
    digest = batch_digest(
        payload.run_id, [(p.key, p.step, p.timestamp, p.value, p.model_id) for p in points]
    )
    fresh = await conn.fetchval(
        "INSERT INTO metric_batches (run_key, digest) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        run.run_key,
        digest,
    )
    if fresh is None:
        return Verdict(accepted=True, outcome={"duplicate_batch": True})
    ids = await metric_key_ids(conn, sorted({p.key for p in points}))
    await conn.copy_records_to_table(
        "metrics",
        records=[
            (
                run.run_key,
                ids[p.key],
                p.step,
                p.timestamp,
                p.value,
                p.model_id,
                p.dataset_name,
                p.dataset_digest,
            )
            for p in points
        ],
        columns=METRIC_COLUMNS,
    )
    latest: dict[str, MetricPoint] = {}
    for p in points:
        best = latest.get(p.key)
        if best is None or _rank(p.step, p.timestamp, p.value) > _rank(
            best.step, best.timestamp, best.value
        ):
            latest[p.key] = p
    winners = list(latest.values())
    await conn.execute(
        _LATEST,
        run.run_key,
        [ids[w.key] for w in winners],
        [w.step for w in winners],
        [w.timestamp for w in winners],
        [w.value for w in winners],
        [w.model_id for w in winners],
        [w.dataset_name for w in winners],
        [w.dataset_digest for w in winners],
    )
    return None
