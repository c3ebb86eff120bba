"""SearchRuns compiled to SQL against the oracle, over 2,000 runs written into the read models."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import asyncpg
import pytest

from services.search import RunSearch, SearchError, compile_run_search
from tests.integration.search.conftest import (
    BASE_TIME,
    EXPERIMENT_IDS,
    METRIC_KEYS,
    collect_pages,
    ensure_metric_keys,
    insert_experiments,
    insert_runs,
    make_experiments,
    make_runs,
)
from tests.support.search_oracle import search_runs

PAGE_SIZES = (1, 7, 100, 1000)
MID = BASE_TIME + 200_000

FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metrics.acc >= 0.5 AND metrics.loss < 1",
    "metrics.acc != 0.5",
    "metrics.acc = 0.5",
    "metrics.acc <= -1e308",
    "metrics.`val loss` > 1e308",
    'metrics."val loss" < 1e999',
    "metrics.f1 >= 0 and metrics.f1 <= 1",
    "params.lr = '0.01'",
    "params.model LIKE 'res%'",
    "params.model ILIKE 'RES%'",
    "params.optimizer != 'adam'",
    "params.note IS NULL",
    "params.note IS NOT NULL AND params.note LIKE '%\\%%'",
    "params.note = ''",
    "param.note LIKE 'a\\_b'",
    "params.batch_size LIKE '_2%'",
    "tags.team = 'vision'",
    "tags.`mlflow.source.name` LIKE '%train.py'",
    "tags.priority != 'high'",
    'tags."my tag" IS NULL',
    "attributes.status = 'FINISHED'",
    "status != 'RUNNING' AND user_id = 'alice'",
    "run_name LIKE 'brave%'",
    "`Run Name` ILIKE 'BRAVE%'",
    "attr.run_name LIKE '%\\%%'",
    f"start_time > {MID}",
    f"created <= {MID}.5",
    f"end_time >= {MID}",
    "end_time != 0",
    "artifact_uri LIKE 's3://%'",
    "datasets.name = 'train'",
    "datasets.digest IN ('d1', 'd2')",
    "datasets.context = 'training'",
    "datasets.name != 'train'",
    "datasets.context NOT IN ('training')",
    "dataset.name ILIKE 'TR%' AND metrics.acc < 1",
    "metrics.acc > 0 AND params.lr = '0.01' AND tags.team ILIKE 'vision'",
]
ORDERS: list[list[str]] = [
    [],
    ["metrics.acc DESC"],
    ["metrics.acc"],
    ["params.lr ASC", "metrics.loss DESC"],
    ["tags.team DESC"],
    ["attributes.start_time ASC"],
    ["start_time DESC"],
    ["run_name"],
    ["end_time DESC"],
    ["status", "user_id DESC"],
    ["metrics.`val loss` ASC"],
    ["created"],
    ["params.note DESC"],
    ["run_id DESC"],
    ["metrics.f1 DESC", "tags.priority"],
]
VIEWS = ["ACTIVE_ONLY", "ALL", "DELETED_ONLY"]
EXPERIMENT_SETS = [[1], [1, 2, 3], EXPERIMENT_IDS]


def _queries(runs: list[dict[str, Any]]) -> list[tuple[list[int], str, list[str], str]]:
    some = sorted(r["run_id"] for r in runs)[::37]
    filters = [
        *FILTERS,
        "run_id IN (" + ", ".join(f"'{i}'" for i in some) + ")",
        "run_id NOT IN (" + ", ".join(f'"{i}"' for i in some) + ")",
    ]
    queries = [
        (EXPERIMENT_SETS[(i // 3) % 3], f, ORDERS[(i * 7) % len(ORDERS)], VIEWS[i % 3])
        for i, f in enumerate(filters)
    ]
    # Every order once more, unfiltered, where the ordering matters most.
    queries += [([2, 3], "", order, "ALL") for order in ORDERS]
    return queries


@pytest.fixture
async def loaded(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rng = random.Random(20240611)
    runs = make_runs(rng, 2000, experiment_ids=[1, 1, 1, 2, 2, 3, 4, 5])
    async with pool.acquire() as conn:
        await insert_experiments(conn, make_experiments(rng, len(EXPERIMENT_IDS)))
        await ensure_metric_keys(conn, METRIC_KEYS)
        await insert_runs(conn, runs)
        await conn.execute("ANALYZE")
    return runs


async def _pages(
    pool: asyncpg.Pool,
    experiment_ids: list[int],
    filter_: str,
    order: list[str],
    view: str,
    size: int,
    expected: int,
) -> list[str]:
    def compile_page(token: str | None) -> Any:
        return compile_run_search(
            RunSearch(experiment_ids, filter_, order, view, size, token)  # type: ignore[arg-type]
        )

    return await collect_pages(pool, compile_page, "run_id", max_pages=expected // size + 2)


async def test_pages_concatenate_to_the_oracle_result(
    pool: asyncpg.Pool, loaded: list[dict[str, Any]]
) -> None:
    queries = _queries(loaded)
    assert len(queries) >= 40
    expected = {i: search_runs(loaded, *query) for i, query in enumerate(queries)}
    # The corpus must not be trivial: most queries select something, some select a lot.
    assert sum(1 for ids in expected.values() if ids) >= len(queries) * 0.9
    assert max(len(ids) for ids in expected.values()) > 1000

    # Each walk is sequential; walks run side by side, a few connections at a time.
    gate = asyncio.Semaphore(4)

    async def walk(i: int, size: int) -> None:
        experiment_ids, filter_, order, view = queries[i]
        async with gate:
            got = await _pages(pool, experiment_ids, filter_, order, view, size, len(expected[i]))
        assert got == expected[i], (experiment_ids, filter_, order, view, size)

    await asyncio.gather(*(walk(i, size) for i in expected for size in PAGE_SIZES))


async def test_paging_survives_new_and_deleted_runs(
    pool: asyncpg.Pool, loaded: list[dict[str, Any]]
) -> None:
    """Runs arrive (newest first in the order) and runs are deleted between page 1 and page 2;
    every run that exists throughout is returned exactly once."""
    rng = random.Random(7)
    for order in ([], ["metrics.acc DESC"], ["params.lr", "start_time ASC"]):
        search = RunSearch([1], "", order, "ACTIVE_ONLY", 40)
        before = search_runs(loaded, [1], "", order)
        first = compile_run_search(search)
        page1, token = first.page(await pool.fetch(first.sql, *first.args))
        assert [r["run_id"] for r in page1] == before[:40] and token

        # Arrivals: the newest start times of all, and some in the middle of the order.
        newcomers = make_runs(rng, 30, experiment_ids=[1])
        for n, run in enumerate(newcomers):
            run["lifecycle_stage"] = "active"
            run["start_time"] = BASE_TIME + 10**9 + n if n % 2 else BASE_TIME + 150_000
        # Departures: a run already returned, page 1's last run (the cursor), one due on page 2
        # and one further on.
        gone = {before[3], before[39], before[45], before[300]}
        async with pool.acquire() as conn:
            await insert_runs(conn, newcomers)
            await conn.execute(
                "UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_id = ANY($1::text[])",
                list(gone),
            )
        seen = [r["run_id"] for r in page1]
        for _ in range(len(before)):
            nxt = compile_run_search(
                RunSearch([1], "", order, "ACTIVE_ONLY", 40, token)  # token from page 1 on
            )
            page, token = nxt.page(await pool.fetch(nxt.sql, *nxt.args))
            seen += [r["run_id"] for r in page]
            if token is None:
                break
        assert token is None
        assert len(seen) == len(set(seen)), "a run was returned twice"
        # In order, nothing skipped: page 1 as it was, then every earlier run still there.
        expected = before[:40] + [i for i in before[40:] if i not in gone]
        assert [i for i in seen if i in set(before)] == expected
        # Restore the loaded state for the next order.
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE runs SET lifecycle_stage = 'active' WHERE run_id = ANY($1::text[])",
                list(gone),
            )
            await conn.execute(
                "DELETE FROM runs WHERE run_id = ANY($1::text[])", [r["run_id"] for r in newcomers]
            )


async def test_a_token_only_serves_its_own_search(
    pool: asyncpg.Pool, loaded: list[dict[str, Any]]
) -> None:
    first = compile_run_search(
        RunSearch([1], "metrics.acc > 0", ["metrics.acc DESC"], max_results=5)
    )
    _, token = first.page(await pool.fetch(first.sql, *first.args))
    assert token
    for other in (
        RunSearch([1, 2], "metrics.acc > 0", ["metrics.acc DESC"], page_token=token),
        RunSearch([1], "metrics.acc > 1", ["metrics.acc DESC"], page_token=token),
        RunSearch([1], "metrics.acc > 0", ["metrics.acc ASC"], page_token=token),
        RunSearch([1], "metrics.acc > 0", ["metrics.acc DESC"], "ALL", page_token=token),
    ):
        with pytest.raises(SearchError, match="issued for a different search"):
            compile_run_search(other)
    # The page size may change from page to page.
    compile_run_search(
        RunSearch([1], "metrics.acc > 0", ["metrics.acc DESC"], max_results=9, page_token=token)
    )


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


async def _explain(pool: asyncpg.Pool, search: RunSearch) -> tuple[str, list[dict[str, Any]]]:
    compiled = compile_run_search(search)
    text = "\n".join(r[0] for r in await pool.fetch("EXPLAIN " + compiled.sql, *compiled.args))
    raw = await pool.fetchval("EXPLAIN (FORMAT JSON) " + compiled.sql, *compiled.args)
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return text, _plan_nodes(plan[0]["Plan"])


async def test_dashboard_queries_use_indexes(pool: asyncpg.Pool) -> None:
    """One experiment among twenty, a metric filter, ordered by a metric: the plan reaches runs
    through an index, never a sequential scan. The default listing reads its index in order."""
    rng = random.Random(11)
    experiments = make_experiments(rng, 20)
    runs = make_runs(rng, 20_000, experiment_ids=list(range(1, 21)))
    async with pool.acquire() as conn:
        await insert_experiments(conn, experiments)
        await ensure_metric_keys(conn, METRIC_KEYS)
        await insert_runs(conn, runs)
        await conn.execute("ANALYZE")

    text, nodes = await _explain(
        pool, RunSearch([7], "metrics.acc > 0.5", ["metrics.acc DESC"], max_results=100)
    )
    print(text)
    on_runs = [n for n in nodes if n.get("Relation Name") == "runs"]
    assert on_runs and all(n["Node Type"] != "Seq Scan" for n in on_runs), text
    assert any("Index" in n["Node Type"] or "Bitmap" in n["Node Type"] for n in on_runs), text

    text, nodes = await _explain(pool, RunSearch([7], max_results=100))
    print(text)
    assert any(n.get("Index Name") == "runs_by_experiment_newest" for n in nodes), text
    assert not any(n["Node Type"] in ("Sort", "Incremental Sort") for n in nodes), text
