"""SearchExperiments compiled to SQL against the oracle, over a few hundred experiments."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest

from services.search import ExperimentSearch, SearchError, compile_experiment_search
from tests.integration.search.conftest import (
    BASE_TIME,
    collect_pages,
    insert_experiments,
    make_experiments,
)
from tests.support.search_oracle import search_experiments

PAGE_SIZES = (1, 7, 100, 1000)
MID = BASE_TIME + 75_000

FILTERS = [
    "",
    "name = 'exp-0007'",
    "name LIKE 'exp-%'",
    "name ILIKE 'EXP-%'",
    "name LIKE '50\\%%'",
    "name != 'demo-0003'",
    "attribute.name LIKE '%\\_model%'",
    "experiment_id = '42'",
    "experiment_id != '42'",
    "experiment_id IN ('1', '2', '3', '250', '999')",
    "experiment_id NOT IN ('1', '2', '3')",
    f"creation_time > {MID}",
    f"creation_time <= {MID}",
    f"last_update_time >= {MID} AND creation_time < {MID + 20_000}",
    "last_update_time != 0",
    "tags.team = 'vision'",
    "tag.team ILIKE 'vision'",
    "tags.owner != 'alice'",
    "tags.owner IS NULL",
    "tags.owner IS NOT NULL AND tags.team LIKE '%i%'",
    "tags.`mlflow.note.content` LIKE '%\\%%'",
    "tags.`mlflow.note.content` = ''",
    "name LIKE 'prod%' AND tags.team = 'nlp'",
]
ORDERS: list[list[str]] = [
    [],
    ["name"],
    ["name DESC"],
    ["creation_time"],
    ["creation_time DESC"],
    ["last_update_time DESC", "name"],
    ["experiment_id DESC"],
    ["attribute.last_update_time", "experiment_id ASC"],
    ["name", "name DESC"],
]
VIEWS = ["ACTIVE_ONLY", "ALL", "DELETED_ONLY"]


@pytest.fixture
async def loaded(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    experiments = make_experiments(random.Random(5), 300)
    async with pool.acquire() as conn:
        await insert_experiments(conn, experiments)
        await conn.execute("ANALYZE")
    return experiments


async def test_pages_concatenate_to_the_oracle_result(
    pool: asyncpg.Pool, loaded: list[dict[str, Any]]
) -> None:
    queries = [(f, ORDERS[(i * 5) % len(ORDERS)], VIEWS[i % 3]) for i, f in enumerate(FILTERS)]
    queries += [("", order, "ALL") for order in ORDERS]
    expected = [search_experiments(loaded, *query) for query in queries]
    assert sum(1 for ids in expected if ids) >= len(queries) * 0.9
    assert max(len(ids) for ids in expected) == len(loaded)
    gate = asyncio.Semaphore(4)

    async def walk(query: tuple[str, list[str], str], want: list[int], size: int) -> None:
        filter_, order, view = query

        def compile_page(token: str | None) -> Any:
            return compile_experiment_search(
                ExperimentSearch(filter_, order, view, size, token)  # type: ignore[arg-type]
            )

        async with gate:
            got = await collect_pages(
                pool, compile_page, "experiment_id", max_pages=len(want) // size + 2
            )
        assert got == want, (filter_, order, view, size)

    await asyncio.gather(
        *(
            walk(q, want, size)
            for q, want in zip(queries, expected, strict=True)
            for size in PAGE_SIZES
        )
    )


async def test_paging_survives_new_and_deleted_experiments(
    pool: asyncpg.Pool, loaded: list[dict[str, Any]]
) -> None:
    before = search_experiments(loaded)
    first = compile_experiment_search(ExperimentSearch(max_results=25))
    page1, token = first.page(await pool.fetch(first.sql, *first.args))
    assert [r["experiment_id"] for r in page1] == before[:25] and token

    newcomers = make_experiments(random.Random(6), 20, first_id=10_000)
    for n, experiment in enumerate(newcomers):
        experiment["lifecycle_stage"] = "active"
        experiment["creation_time"] = BASE_TIME + (10**9 if n % 2 else 60_000)
    gone = {before[2], before[24], before[30], before[100]}  # [24]: page 1's last row
    async with pool.acquire() as conn:
        await insert_experiments(conn, newcomers)
        await conn.execute(
            "UPDATE experiments SET lifecycle_stage = 'deleted' "
            "WHERE experiment_id = ANY($1::bigint[])",
            list(gone),
        )
    seen = [r["experiment_id"] for r in page1]
    for _ in range(len(before)):
        nxt = compile_experiment_search(ExperimentSearch(max_results=25, page_token=token))
        page, token = nxt.page(await pool.fetch(nxt.sql, *nxt.args))
        seen += [r["experiment_id"] for r in page]
        if token is None:
            break
    assert token is None
    assert len(seen) == len(set(seen)), "an experiment was returned twice"
    expected = before[:25] + [i for i in before[25:] if i not in gone]
    assert [i for i in seen if i in set(before)] == expected


async def test_a_token_only_serves_its_own_search(
    pool: asyncpg.Pool, loaded: list[dict[str, Any]]
) -> None:
    first = compile_experiment_search(ExperimentSearch("name LIKE 'exp%'", max_results=3))
    _, token = first.page(await pool.fetch(first.sql, *first.args))
    assert token
    with pytest.raises(SearchError, match="issued for a different search"):
        compile_experiment_search(ExperimentSearch("name LIKE 'demo%'", page_token=token))
    with pytest.raises(SearchError, match="issued for a different search"):
        compile_experiment_search(ExperimentSearch("name LIKE 'exp%'", ["name"], page_token=token))
