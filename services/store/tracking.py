"""Tracking read queries: experiments, runs (assembled as MLflow's JSON), metric histories.

Results are shaped like MLflow's proto JSON (snake_case, unset fields omitted, int64 as numbers)
so the gateway can hand them to orjson as they are.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

MAX_FLOAT = 1.7976931348623157e308


def metric_value(value: float) -> float | str:
    """MLflow's JSON for a metric value: NaN as "NaN", infinities as the largest doubles."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return MAX_FLOAT if value > 0 else -MAX_FLOAT
    return value


def _tags(rows: Sequence[asyncpg.Record]) -> list[dict[str, str]]:
    return [{"key": r["key"], "value": r["value"]} for r in rows]


def _experiment(row: asyncpg.Record, tags: list[dict[str, str]]) -> dict[str, Any]:
    experiment: dict[str, Any] = {
        "experiment_id": str(row["experiment_id"]),
        "name": row["name"],
        "artifact_location": row["artifact_location"],
        "lifecycle_stage": row["lifecycle_stage"],
        "last_update_time": row["last_update_time"],
        "creation_time": row["creation_time"],
    }
    if tags:
        experiment["tags"] = tags
    return experiment


_EXPERIMENT_COLUMNS = (
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time"
)


async def experiments_by_id(
    conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[int]
) -> list[dict[str, Any]]:
    """Experiments in the order of ``ids`` (missing ids are skipped)."""
    rows = await conn.fetch(
        f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ANY($1::bigint[])",
        list(ids),
    )
    tags: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for tag in await conn.fetch(
        "SELECT experiment_id, key, value FROM experiment_tags "
        "WHERE experiment_id = ANY($1::bigint[]) ORDER BY experiment_id, key",
        list(ids),
    ):
        tags[tag["experiment_id"]].append(tag)
    by_id = {r["experiment_id"]: _experiment(r, _tags(tags[r["experiment_id"]])) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


async def experiment(
    conn: asyncpg.Connection | asyncpg.Pool, experiment_id: int
) -> dict[str, Any] | None:
    found = await experiments_by_id(conn, [experiment_id])
    return found[0] if found else None


async def experiment_id_by_name(conn: asyncpg.Connection | asyncpg.Pool, name: str) -> int | None:
    value = await conn.fetchval("SELECT experiment_id FROM experiments WHERE name = $1", name)
    return int(value) if value is not None else None


_RUN_COLUMNS = (
    "run_key, run_id, experiment_id, name, user_id, status, start_time, end_time, "
    "artifact_uri, lifecycle_stage"
)


def run_info(row: asyncpg.Record) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": row["run_id"],
        "run_uuid": row["run_id"],
        "run_name": row["name"],
        "experiment_id": str(row["experiment_id"]),
        "user_id": row["user_id"],
        "status": row["status"],
        "artifact_uri": row["artifact_uri"],
        "lifecycle_stage": row["lifecycle_stage"],
    }
    if row["start_time"] is not None:
        info["start_time"] = row["start_time"]
    if row["end_time"] is not None:
        info["end_time"] = row["end_time"]
    return info


async def run_row(conn: asyncpg.Connection | asyncpg.Pool, run_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = $1", run_id)


# Full runs (info, data, inputs, outputs) as MLflow's JSON, rendered by PostgreSQL in one
# statement: a search page of 1,000 runs never becomes Python dicts. Each child table is
# aggregated per run once (set-based, not a subquery per run) and joined to the runs in the
# order asked for. Most of it is concatenated text (strings escaped by to_json), at a fraction
# of json_build_object's CPU; a field a run does not have (start or end time, an empty list) is
# NULL, which || carries through and coalesce or concat_ws then leave out, as MLflow's proto JSON
# omits it. Infinite metric values are the largest doubles and NaN is the string "NaN", as in
# metric_value.
_RUNS_JSON = """
WITH wanted AS (SELECT run_key, ord FROM unnest($1::bigint[]) WITH ORDINALITY AS w(run_key, ord)),
metrics AS (
    SELECT l.run_key, string_agg(
               '{"key":' || to_json(k.key)::text || ',"value":' ||
               CASE l.value WHEN 'NaN' THEN '"NaN"'
                            WHEN 'Infinity' THEN '1.7976931348623157e+308'
                            WHEN '-Infinity' THEN '-1.7976931348623157e+308'
                            ELSE l.value::text END ||
               ',"timestamp":' || l.timestamp || ',"step":' || l.step || '}',
               ',' ORDER BY k.key) AS items
      FROM latest_metrics l JOIN metric_keys k USING (key_id)
     WHERE l.run_key = ANY($1::bigint[]) GROUP BY l.run_key),
params AS (
    SELECT run_key, string_agg('{"key":' || to_json(key)::text || ',"value":' ||
                               to_json(value)::text || '}', ',' ORDER BY key) AS items
      FROM run_params WHERE run_key = ANY($1::bigint[]) GROUP BY run_key),
tags AS (
    SELECT run_key, string_agg('{"key":' || to_json(key)::text || ',"value":' ||
                               to_json(value)::text || '}', ',' ORDER BY key) AS items
      FROM run_tags WHERE run_key = ANY($1::bigint[]) GROUP BY run_key),
datasets AS (
    SELECT i.run_key, string_agg(json_strip_nulls(json_build_object(
               'dataset', json_build_object(
                   'name', d.name, 'digest', d.digest, 'source_type', d.source_type,
                   'source', d.source, 'schema', d.schema, 'profile', d.profile),
               'tags', CASE WHEN i.tags <> '[]'::jsonb THEN i.tags END))::text,
               ',' ORDER BY d.dataset_key) AS items
      FROM run_dataset_inputs i JOIN datasets d USING (dataset_key)
     WHERE i.run_key = ANY($1::bigint[]) GROUP BY i.run_key),
model_inputs AS (
    SELECT run_key, string_agg('{"model_id":' || to_json(model_id)::text || '}', ','
                               ORDER BY model_id) AS items
      FROM run_model_inputs WHERE run_key = ANY($1::bigint[]) GROUP BY run_key),
model_outputs AS (
    SELECT run_key, string_agg('{"model_id":' || to_json(model_id)::text || ',"step":' || step
                               || '}', ',' ORDER BY model_id) AS items
      FROM run_model_outputs WHERE run_key = ANY($1::bigint[]) GROUP BY run_key)
SELECT '[' || coalesce(string_agg(
           '{"info":{"run_id":' || to_json(r.run_id)::text ||
           ',"run_uuid":' || to_json(r.run_id)::text ||
           ',"run_name":' || to_json(r.name)::text ||
           ',"experiment_id":"' || r.experiment_id ||
           '","user_id":' || to_json(r.user_id)::text ||
           ',"status":' || to_json(r.status)::text ||
           ',"artifact_uri":' || to_json(r.artifact_uri)::text ||
           ',"lifecycle_stage":' || to_json(r.lifecycle_stage)::text ||
           coalesce(',"start_time":' || r.start_time, '') ||
           coalesce(',"end_time":' || r.end_time, '') ||
           '},"data":{' || concat_ws(',', '"metrics":[' || m.items || ']',
                                     '"params":[' || p.items || ']',
                                     '"tags":[' || t.items || ']') ||
           '},"inputs":{' || concat_ws(',', '"dataset_inputs":[' || d.items || ']',
                                       '"model_inputs":[' || mi.items || ']') ||
           '},"outputs":{' || coalesce('"model_outputs":[' || mo.items || ']', '') || '}}',
         ',' ORDER BY w.ord), '') || ']'
  FROM wanted w
  JOIN runs r USING (run_key)
  LEFT JOIN metrics m USING (run_key)
  LEFT JOIN params p USING (run_key)
  LEFT JOIN tags t USING (run_key)
  LEFT JOIN datasets d USING (run_key)
  LEFT JOIN model_inputs mi USING (run_key)
  LEFT JOIN model_outputs mo USING (run_key)"""


async def runs_json(conn: asyncpg.Connection | asyncpg.Pool, run_keys: Sequence[int]) -> str:
    """Full runs as a JSON array (text), in the order of ``run_keys``; keys of runs that do not
    exist are skipped. One statement whatever the number of runs."""
    if not run_keys:
        return "[]"
    return str(await conn.fetchval(_RUNS_JSON, list(run_keys)))


async def run_key_of(conn: asyncpg.Connection | asyncpg.Pool, run_id: str) -> int | None:
    value = await conn.fetchval("SELECT run_key FROM runs WHERE run_id = $1", run_id)
    return int(value) if value is not None else None


# The history, ordered as MLflow's SQL store orders it, rendered to JSON text by PostgreSQL
# itself so a 25,000-point page never becomes 25,000 Python dicts. Each point is concatenated
# text ($6 is the key, JSON-quoted by the caller), a third of json_build_object's CPU; numbers
# are PostgreSQL's shortest exact float8 and int8 text, as json_build_object writes them, and
# NaN and the infinities the JSON strings "NaN", "Infinity" and "-Infinity", which the client
# parses. One row more than the page is read to tell whether another page follows.
_HISTORY = """
SELECT '[' || coalesce(string_agg(
           '{"key":' || $6::text || ',"value":' ||
           CASE WHEN m.value IN ('NaN', 'Infinity', '-Infinity') THEN '"' || m.value || '"'
                ELSE m.value::text END ||
           ',"timestamp":' || m.timestamp || ',"step":' || m.step || '}',
           ',' ORDER BY m.rn) FILTER (WHERE $5::bigint IS NULL OR m.rn <= $5), '') || ']',
       count(*)
  FROM (SELECT t.*, row_number() OVER () AS rn
          FROM (SELECT timestamp, step, value FROM metrics
                 WHERE run_key = $1 AND key_id = (SELECT key_id FROM metric_keys WHERE key = $3)
                 ORDER BY timestamp, step, value
                OFFSET $2 LIMIT $4) t) m"""


async def metric_history_json(
    conn: asyncpg.Connection | asyncpg.Pool,
    run_key: int,
    key: str,
    offset: int,
    page_size: int | None,
) -> tuple[str, int, bool]:
    """(JSON array text of up to ``page_size`` points from ``offset``, how many, more follow?)"""
    limit = page_size + 1 if page_size is not None else None
    quoted = orjson.dumps(key).decode()
    row = await conn.fetchrow(_HISTORY, run_key, offset, key, limit, page_size, quoted)
    assert row is not None
    total = int(row[1])
    more = page_size is not None and total > page_size
    return row[0], min(total, page_size) if page_size is not None else total, more


# Evenly spaced rows of each run's history in the step range, always with the first and the last
# (only the last when max_results is 1); PostgreSQL computes it with window functions.
_SAMPLED = """
WITH picked AS (
    SELECT m.run_key, m.step, m.timestamp, m.value,
           row_number() OVER w - 1 AS i, count(*) OVER (PARTITION BY m.run_key) AS n
      FROM metrics m
     WHERE m.run_key = ANY($1::bigint[])
       AND m.key_id = (SELECT key_id FROM metric_keys WHERE key = $2)
       AND ($3::bigint IS NULL OR m.step BETWEEN $3 AND $4)
    WINDOW w AS (PARTITION BY m.run_key ORDER BY m.step, m.timestamp, m.value)
)
SELECT r.run_id, p.step, p.timestamp, p.value
  FROM picked p JOIN runs r USING (run_key)
 WHERE p.n <= $5
    OR ($5 = 1 AND p.i = p.n - 1)
    OR ($5 > 1 AND (p.i = p.n - 1
        OR floor(p.i * ($5 - 1)::float8 / (p.n - 1))
           <> floor((p.i - 1) * ($5 - 1)::float8 / (p.n - 1))))
 ORDER BY r.run_id, p.step, p.timestamp, p.value"""


async def sampled_history(
    conn: asyncpg.Connection | asyncpg.Pool,
    run_keys: Sequence[int],
    key: str,
    max_results: int,
    start_step: int | None,
    end_step: int | None,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(_SAMPLED, list(run_keys), key, start_step, end_step, max_results)
    return [
        {
            "key": key,
            "value": metric_value(r["value"]),
            "timestamp": r["timestamp"],
            "step": r["step"],
            "run_id": r["run_id"],
        }
        for r in rows
    ]
