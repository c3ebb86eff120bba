"""Metrics: the full history and the latest value per key, set-based over a whole batch.

All metrics.logged events of a projector batch are applied together: one lookup of their runs,
one insert of their batch digests, one COPY of every point, one upsert of the latest values.
A retried batch (same run, same points) is recognised by its digest and applied once. The
latest value is the max of (step, timestamp, value) with NaN ranking as 0, as MLflow's SQL store
does, so the projection does not depend on the order in which batches arrive.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections.abc import Sequence
from typing import Any

import asyncpg

from schemas import Envelope, MetricsLogged
from services.projector.projections import projects_batches
from services.projector.verdict import ACCEPTED, Verdict

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
SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[], $5::float8[],
                     $6::text[], $7::text[], $8::text[])
ON CONFLICT (run_key, key_id) DO UPDATE
   SET step = EXCLUDED.step, timestamp = EXCLUDED.timestamp, value = EXCLUDED.value,
       model_id = EXCLUDED.model_id, dataset_name = EXCLUDED.dataset_name,
       dataset_digest = EXCLUDED.dataset_digest
 WHERE (EXCLUDED.step, EXCLUDED.timestamp,
        CASE WHEN EXCLUDED.value = 'NaN' THEN 0 ELSE EXCLUDED.value END)
     > (l.step, l.timestamp, CASE WHEN l.value = 'NaN' THEN 0 ELSE l.value END)"""

DUPLICATE = Verdict(accepted=True, outcome={"duplicate_batch": True})


def batch_digest(payload: MetricsLogged) -> bytes:
    """The batch's identity: a retried request carries the same points in the same order.
    Values are hashed as IEEE doubles, so NaN and the infinities stay distinct."""
    digest = hashlib.sha256(payload.run_id.encode())
    digest.update("\x00".join(payload.keys).encode())
    digest.update(array("q", payload.steps).tobytes())
    digest.update(array("q", payload.timestamps).tobytes())
    digest.update(array("d", payload.values).tobytes())
    model_ids = payload.model_ids or [None] * len(payload.keys)
    digest.update("\x00".join(m or "" for m in model_ids).encode())
    return digest.digest()[:16]


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


@projects_batches("metrics.logged")
async def logged(conn: asyncpg.Connection, events: Sequence[Envelope]) -> list[Verdict]:
    payloads = []
    for event in events:
        assert isinstance(event.payload, MetricsLogged)
        payloads.append(event.payload)
    runs = {
        r[0]: (r[1], r[2])
        for r in await conn.fetch(
            "SELECT run_id, run_key, lifecycle_stage FROM runs WHERE run_id = ANY($1::text[])",
            list({p.run_id for p in payloads}),
        )
    }
    verdicts: list[Verdict | None] = [None] * len(payloads)
    candidates: list[tuple[int, int, bytes]] = []  # (index, run_key, digest)
    for index, payload in enumerate(payloads):
        run = runs.get(payload.run_id)
        if run is None:
            verdicts[index] = Verdict(
                False, "RESOURCE_DOES_NOT_EXIST", f"Run with id={payload.run_id} not found"
            )
        elif run[1] != "active":
            verdicts[index] = Verdict(
                False,
                "INVALID_PARAMETER_VALUE",
                f"The run {payload.run_id} must be in the 'active' state. "
                f"Current state is {run[1]}.",
            )
        else:
            candidates.append((index, run[0], batch_digest(payload)))
    if candidates:
        fresh = {
            (r[0], bytes(r[1]))
            for r in await conn.fetch(
                "INSERT INTO metric_batches (run_key, digest) "
                "SELECT * FROM unnest($1::bigint[], $2::bytea[]) ON CONFLICT DO NOTHING "
                "RETURNING run_key, digest",
                [c[1] for c in candidates],
                [c[2] for c in candidates],
            )
        }
        applied: list[tuple[int, int]] = []  # (index, run_key)
        for index, run_key, digest in candidates:
            if (run_key, digest) in fresh:
                fresh.discard((run_key, digest))  # a second copy in this batch is a duplicate
                applied.append((index, run_key))
                verdicts[index] = ACCEPTED
            else:
                verdicts[index] = DUPLICATE
        if applied:
            await _write_points(conn, [(run_key, payloads[i]) for i, run_key in applied])
    return [v if v is not None else ACCEPTED for v in verdicts]


def _rank(value: float) -> float:
    return 0.0 if math.isnan(value) else value


async def _write_points(conn: asyncpg.Connection, batches: list[tuple[int, MetricsLogged]]) -> None:
    ids = await metric_key_ids(conn, sorted({key for _, p in batches for key in p.keys}))
    records: list[tuple[Any, ...]] = []
    latest: dict[tuple[int, int], tuple[tuple[int, int, float], tuple[Any, ...]]] = {}
    for run_key, payload in batches:
        size = len(payload.keys)
        none: list[str | None] = [None] * size
        key_ids = [ids[key] for key in payload.keys]
        rows = list(
            zip(
                [run_key] * size,
                key_ids,
                payload.steps,
                payload.timestamps,
                payload.values,
                payload.model_ids or none,
                payload.dataset_names or none,
                payload.dataset_digests or none,
                strict=True,
            )
        )
        records.extend(rows)
        # The latest per key: max of (step, timestamp, value) with NaN ranking as 0. Python's
        # tuple comparison does it, with the value ranked, in one pass over the points.
        for row in rows:
            slot = (run_key, row[1])
            rank = (row[2], row[3], _rank(row[4]))
            best = latest.get(slot)
            if best is None or rank > best[0]:
                latest[slot] = (rank, row)
    # COPY: the whole batch's points in one round trip, the fastest way into the table
    # (asyncpg's binary COPY beats an UNNEST of arrays, whose encoder checks every element).
    await conn.copy_records_to_table("metrics", records=records, columns=METRIC_COLUMNS)
    winners = [row for _, row in latest.values()]
    await conn.execute(_LATEST, *(list(column) for column in zip(*winners, strict=True)))
