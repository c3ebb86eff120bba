"""A metric's history as the JSON text PostgreSQL writes: the same points, values and order as
json_build_object would give (the oracle), and pages of it."""

from __future__ import annotations

import json
import math

import asyncpg

from schemas import MetricsLogged
from services.store import tracking
from tests.support.projecting import Projecting

KEY = 'loss "quoted" \\ ü'
VALUES = [0.1, -0.0, 1e300, 5e-324, math.nan, math.inf, -math.inf, 1 / 3, 123456789.125, -2.5e-10]


async def logged_history(conn: asyncpg.Connection) -> int:
    project = Projecting(conn)
    run_id = await project.run()
    size = len(VALUES)
    # timestamps out of step order: MLflow orders by timestamp, then step, then value
    await project.batch(
        MetricsLogged(
            run_id=run_id,
            keys=[KEY] * size,
            values=VALUES,
            timestamps=[2000 - i if i % 2 else 1000 + i for i in range(size)],
            steps=list(range(size)),
        )
    )
    run_key = await tracking.run_key_of(conn, run_id)
    assert run_key is not None
    return run_key


async def test_history_text_is_what_json_build_object_gives(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        run_key = await logged_history(conn)
        text, count, more = await tracking.metric_history_json(conn, run_key, KEY, 0, None)
        oracle = await conn.fetchval(
            "SELECT json_agg(json_build_object('key', k.key, 'value', m.value, "
            "'timestamp', m.timestamp, 'step', m.step) ORDER BY m.timestamp, m.step, m.value)"
            "::text FROM metrics m JOIN metric_keys k USING (key_id) WHERE m.run_key = $1",
            run_key,
        )
    points = json.loads(text)
    assert (count, more) == (len(VALUES), False)
    assert points == json.loads(oracle)
    assert sorted(p["value"] for p in points if isinstance(p["value"], str)) == [
        "-Infinity",
        "Infinity",
        "NaN",
    ]
    assert '"value":-0,' in text  # -0.0 keeps its sign (json.loads would read it as 0)
    assert {p["key"] for p in points} == {KEY}


async def test_history_pages(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        run_key = await logged_history(conn)
        whole = json.loads((await tracking.metric_history_json(conn, run_key, KEY, 0, None))[0])
        first, count, more = await tracking.metric_history_json(conn, run_key, KEY, 0, 4)
        assert (json.loads(first), count, more) == (whole[:4], 4, True)
        last, count, more = await tracking.metric_history_json(conn, run_key, KEY, 8, 4)
        assert (json.loads(last), count, more) == (whole[8:], 2, False)
        empty, count, more = await tracking.metric_history_json(conn, run_key, "no such key", 0, 4)
        assert (json.loads(empty), count, more) == ([], 0, False)
