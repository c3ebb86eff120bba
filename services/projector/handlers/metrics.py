"""Metrics: the full history and the latest value per key, set-based over a whole batch.

All metrics.logged events of a projector batch are applied together: one statement that looks
up their runs and metric keys and inserts their batch digests, one COPY of every point (a row
per series, its points as arrays: see the metric_chunks migration), one upsert of the latest
values.
A retried batch (same run, same points) is recognised by its digest and applied once. The
latest value is the max of (step, timestamp, value) with NaN ranking as 0, as MLflow's SQL store
does, so the projection does not depend on the order in which batches arrive.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from array import array
from collections.abc import Hashable, Sequence
from typing import Any, TypeVar, cast

import asyncpg

from schemas import Envelope, MetricsLogged
from services.projector.projections import projects_batches
from services.projector.verdict import ACCEPTED, Verdict
from services.store import binary_copy
from services.store.binary_copy import copy_data

CHUNK_COLUMNS = (
    "run_key",
    "key_id",
    "model_id",
    "dataset_name",
    "dataset_digest",
    "steps",
    "timestamps",
    "point_values",
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


Chunk = tuple["array[int]", "array[int]", "array[float]"]  # steps, timestamps, values


def packed_points(payload: MetricsLogged) -> Chunk:
    """The event's steps, timestamps and values as machine arrays, made once per event: the
    digest hashes their bytes, chunks are cut from them by slices, COPY sends them."""
    return (
        binary_copy.packed("q", payload.steps),
        binary_copy.packed("q", payload.timestamps),
        binary_copy.packed("d", payload.values),
    )


def batch_digest(payload: MetricsLogged, points: Chunk) -> bytes:
    """The batch's identity: a retried request carries the same points in the same order.
    Values are hashed as IEEE doubles, so NaN and the infinities stay distinct. ``points`` is
    ``packed_points(payload)``."""
    steps, timestamps, values = points
    digest = hashlib.sha256(payload.run_id.encode())
    digest.update("\x00".join(payload.keys).encode())
    digest.update(steps.tobytes())
    digest.update(timestamps.tobytes())
    digest.update(values.tobytes())
    if payload.model_ids is None:  # what the join below gives for no model ids, without a loop
        digest.update(b"\x00" * (len(payload.keys) - 1))
    else:
        digest.update("\x00".join(m or "" for m in payload.model_ids).encode())
    return digest.digest()[:16]


async def _new_key_ids(conn: asyncpg.Connection, keys: list[str]) -> dict[str, int]:
    """Ids of metric keys not found before, given one if none has it yet."""
    if not keys:
        return {}
    await conn.execute(
        "INSERT INTO metric_keys (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", keys
    )
    rows = await conn.fetch("SELECT key, key_id FROM metric_keys WHERE key = ANY($1::text[])", keys)
    return {r[0]: r[1] for r in rows}


_RUNS_BATCHES_KEYS = """
WITH r AS (SELECT run_id, run_key, lifecycle_stage FROM runs WHERE run_id = ANY($1::text[])),
fresh AS (INSERT INTO metric_batches (run_key, digest)
          SELECT r.run_key, b.digest
            FROM unnest($2::text[], $3::bytea[]) WITH ORDINALITY AS b(run_id, digest, n)
            JOIN r USING (run_id)
           WHERE r.lifecycle_stage = 'active'
           ORDER BY b.n
          ON CONFLICT DO NOTHING RETURNING run_key, digest)
SELECT 0 AS kind, run_id AS name, run_key, lifecycle_stage AS stage, NULL::bytea AS digest FROM r
UNION ALL SELECT 1, NULL, run_key, NULL, digest FROM fresh
UNION ALL SELECT 2, key, key_id, NULL, NULL FROM metric_keys WHERE key = ANY($4::text[])"""
"""One round trip before the points: the batch's runs, its batch digests inserted for those
runs that are active (those that come back are new, the others were applied before), and the
ids of its metric keys that exist."""


@projects_batches("metrics.logged")
async def logged(conn: asyncpg.Connection, events: Sequence[Envelope]) -> list[Verdict]:
    payloads = []
    for event in events:
        assert isinstance(event.payload, MetricsLogged)
        payloads.append(event.payload)
    packed = [packed_points(payload) for payload in payloads]
    digests = [
        batch_digest(payload, points) for payload, points in zip(payloads, packed, strict=True)
    ]
    keys = sorted(set().union(*(p.keys for p in payloads)))
    runs: dict[str, tuple[int, str]] = {}
    fresh: set[tuple[int, bytes]] = set()
    key_ids: dict[str, int] = {}
    for kind, name, number, stage, digest in await conn.fetch(
        _RUNS_BATCHES_KEYS,
        list({p.run_id for p in payloads}),
        [p.run_id for p in payloads],
        digests,
        keys,
    ):
        if kind == 0:
            runs[name] = (number, stage)
        elif kind == 1:
            fresh.add((number, bytes(digest)))
        else:
            key_ids[name] = number
    verdicts: list[Verdict] = []
    applied: list[Packed] = []
    for payload, points, digest in zip(payloads, packed, digests, strict=True):
        run = runs.get(payload.run_id)
        if run is None:
            verdicts.append(
                Verdict(False, "RESOURCE_DOES_NOT_EXIST", f"Run with id={payload.run_id} not found")
            )
        elif run[1] != "active":
            verdicts.append(
                Verdict(
                    False,
                    "INVALID_PARAMETER_VALUE",
                    f"The run {payload.run_id} must be in the 'active' state. "
                    f"Current state is {run[1]}.",
                )
            )
        elif (run[0], digest) in fresh:
            fresh.discard((run[0], digest))  # a second copy in this batch is a duplicate
            applied.append((run[0], payload, points))
            verdicts.append(ACCEPTED)
        else:
            verdicts.append(DUPLICATE)
    if applied:
        await _write_points(conn, applied, key_ids)
    return verdicts


Series = tuple[int, int, str | None, str | None, str | None]  # run, key, model, dataset, digest
Packed = tuple[int, MetricsLogged, Chunk]  # run_key, the event, its packed_points
Label = TypeVar("Label", bound=Hashable)


def _chunks(ids: dict[str, int], batches: list[Packed]) -> dict[Series, Chunk]:
    """The points of the batch grouped by series, each series in the order its points came."""
    chunks: dict[Series, Chunk] = {}

    def chunk_of(series: Series) -> Chunk:
        chunk = chunks.get(series)
        if chunk is None:
            chunk = chunks[series] = (array("q"), array("q"), array("d"))
        return chunk

    def series_of(label: Hashable, run_key: int) -> Series:
        if isinstance(label, str):
            return (run_key, ids[label], None, None, None)
        return cast(Series, label)

    for run_key, payload, (steps, timestamps, values) in batches:
        labels: Sequence[Hashable]  # a key (the usual event) or a whole series
        if payload.model_ids or payload.dataset_names or payload.dataset_digests:
            size = len(payload.keys)
            none: list[str | None] = [None] * size
            labels = [
                (run_key, ids[key], model_id, name, digest)
                for key, model_id, name, digest in zip(
                    payload.keys,
                    payload.model_ids or none,
                    payload.dataset_names or none,
                    payload.dataset_digests or none,
                    strict=True,
                )
            ]
        else:  # the usual event: a key names its series, so the keys alone are grouped
            labels = payload.keys

        groups = _groups(labels)
        if groups is None:  # no pattern: point by point
            for label, step, timestamp, value in zip(
                labels, steps, timestamps, values, strict=True
            ):
                chunk = chunk_of(series_of(label, run_key))
                chunk[0].append(step)
                chunk[1].append(timestamp)
                chunk[2].append(value)
            continue
        for label, where in groups:
            chunk = chunk_of(series_of(label, run_key))
            chunk[0].extend(steps[where])
            chunk[1].extend(timestamps[where])
            chunk[2].extend(values[where])
    return chunks


def _groups(labels: Sequence[Label]) -> list[tuple[Label, slice]] | None:
    """The positions of each label as slices, in order, when the labels follow a pattern that
    slices capture: repeating rounds (k1 k2 k3 k1 k2 k3 ..., what logging a dict of metrics per
    step gives) or stretches of one label (k1 k1 ... k2 k2 ...). None when neither fits."""
    labels = list(labels)
    size = len(labels)
    first = labels[0]
    try:
        period = labels.index(first, 1)
    except ValueError:
        period = size
    head = labels[:period]
    if period < size and len(set(head)) == period:
        rounds, rest = divmod(size, period)
        if head * rounds + head[:rest] == labels:
            return [(label, slice(i, None, period)) for i, label in enumerate(head)]
    starts = [0, *(i for i in range(1, size) if labels[i] != labels[i - 1])]
    if len(starts) > size // 8 + 1:
        return None
    ends = [*starts[1:], size]
    return [(labels[a], slice(a, b)) for a, b in zip(starts, ends, strict=True)]


def _latest(chunks: dict[Series, Chunk]) -> list[tuple[Any, ...]]:
    """latest_metrics rows: per (run, key) the max of (step, timestamp, value) with NaN ranking
    as 0, the first point logged winning a tie."""
    best: dict[tuple[int, int], tuple[tuple[int, int, float], tuple[Any, ...]]] = {}
    for series, (packed_steps, timestamps, values) in chunks.items():
        steps = packed_steps.tolist()  # three scans of a list beat three of an array (boxing)
        top = max(steps)
        if steps.count(top) == 1:  # the usual case, found without a Python loop
            index = steps.index(top)
            step, timestamp, value = top, timestamps[index], values[index]
            rank = _rank(value)
        else:
            ranked = [_rank(v) for v in values] if _has_nan(values) else values
            step, timestamp, rank, back = max(
                zip(steps, timestamps, ranked, itertools.count(0, -1), strict=False)
            )
            value = values[-back]
        slot = (series[0], series[1])
        held = best.get(slot)
        if held is None or (step, timestamp, rank) > held[0]:
            row = (series[0], series[1], step, timestamp, value, *series[2:])
            best[slot] = ((step, timestamp, rank), row)
    return [row for _, row in best.values()]


def _rank(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def _has_nan(values: Sequence[float]) -> bool:
    return any(map(math.isnan, values))


async def _write_points(
    conn: asyncpg.Connection, batches: list[Packed], known: dict[str, int]
) -> None:
    """``known``: ids of some of the batches' keys, looked up already."""
    keys = set().union(*(p.keys for _, p, _ in batches))
    ids = known | await _new_key_ids(conn, sorted(keys - known.keys()))
    chunks = _chunks(ids, batches)
    # COPY: the whole batch in one round trip, a row per series, encoded by binary_copy.
    data = copy_data(
        (
            binary_copy.int8(run_key),
            binary_copy.int4(key_id),
            binary_copy.text(model_id),
            binary_copy.text(dataset_name),
            binary_copy.text(dataset_digest),
            binary_copy.int8_array(steps),
            binary_copy.int8_array(timestamps),
            binary_copy.float8_array(values),
        )
        for (run_key, key_id, model_id, dataset_name, dataset_digest), (
            steps,
            timestamps,
            values,
        ) in chunks.items()
    )
    await conn.copy_to_table(
        "metric_chunks", source=memoryview(data), columns=CHUNK_COLUMNS, format="binary"
    )
    winners = _latest(chunks)
    await conn.execute(_LATEST, *(list(column) for column in zip(*winners, strict=True)))
