"""Registry searches against real PostgreSQL, checked against the plain-Python oracle (itself
checked against MLflow's store in tests/unit/registry) over a few hundred models and versions:
filters, orderings, tie-breakers, prompts, deleted versions, keyset pages."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

import asyncpg
import pytest

from schemas import (
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagSet,
    Payload,
    RegisteredModelCreated,
    RegisteredModelRenamed,
    RegisteredModelTagSet,
    Tag,
)
from services.projector.handlers.registry import write_difference
from services.registry import (
    EMPTY,
    RegistryRejection,
    RegistryState,
    apply,
    registered_model_json,
    version_json,
)
from services.search import CompiledSearch, SearchError
from services.search.registry import (
    ModelVersionSearch,
    RegisteredModelSearch,
    compile_model_version_search,
    compile_registered_model_search,
)
from services.store import registry as reads
from tests.unit.registry import search_oracle
from tests.unit.registry.builders import event

STEMS = ["fraud", "Fraud", "churn", "50%off", "a_b", "ranker", "Émile", "zeta"]


def build_registry(seed: int = 11, models: int = 120) -> RegistryState:
    """About 120 models and 300 versions: mixed-case names, LIKE metacharacters, prompts, runs,
    sources, deleted versions, renames, and many equal timestamps (tie-breakers matter)."""
    rng = random.Random(seed)
    state = EMPTY
    seconds = 0.0

    def emit(payload: Payload) -> None:
        nonlocal seconds, state
        seconds += rng.choice([0, 0, 0.5, 1])
        with contextlib.suppress(RegistryRejection):
            state = apply(state, event(payload, seconds)).state

    names = []
    for i in range(models):
        name = f"{STEMS[i % len(STEMS)]}-{i:03d}"
        names.append(name)
        tags = [
            Tag(key=key, value=rng.choice(values))
            for key, chance, values in [
                ("team", 0.6, ["vision", "Vision", "nlp"]),
                ("owner", 0.4, ["alice", "bob"]),
                ("mlflow.prompt.is_prompt", 0.12, ["true", "false", "TRUE"]),
            ]
            if rng.random() < chance
        ]
        emit(RegisteredModelCreated(name=name, tags=tags))
        for _ in range(rng.choice([0, 1, 2, 3, 4, 5])):
            version_tags = [
                Tag(key=key, value=rng.choice(values))
                for key, chance, values in [
                    ("stage", 0.5, ["candidate", "Candidate", "baseline"]),
                    ("mlflow.prompt.is_prompt", 0.05, ["true"]),
                ]
                if rng.random() < chance
            ]
            emit(
                ModelVersionCreated(
                    name=name,
                    source=rng.choice(["s3://bucket/x", "file:///tmp/y", "models:/m-1"]),
                    run_id=rng.choice([None, "run1", "run2", "Run3"]),
                    tags=version_tags,
                )
            )
    # a second pass of changes: stages, deletions, aliases, tags, a few renames
    for name in list(state.models):
        model = state.models[name]
        for number in list(model.versions):
            roll = rng.random()
            if roll < 0.15:
                emit(ModelVersionDeleted(name=name, version=number))
            elif roll < 0.45:
                emit(
                    ModelVersionStageTransitioned(
                        name=name, version=number, stage=rng.choice(["Staging", "Production"])
                    )
                )
            elif roll < 0.55:
                emit(ModelVersionTagSet(name=name, version=number, key="stage", value="late"))
            elif roll < 0.62:
                emit(ModelAliasSet(name=name, alias="champion", version=number))
        if rng.random() < 0.2:
            emit(RegisteredModelTagSet(name=name, key="team", value="nlp"))
        if rng.random() < 0.05:
            emit(RegisteredModelRenamed(name=name, new_name=f"renamed-{name}"))
    return state


@pytest.fixture(scope="module")
def registry() -> RegistryState:
    return build_registry()


@pytest.fixture
async def loaded(pool: asyncpg.Pool, registry: RegistryState) -> asyncpg.Pool:
    async with pool.acquire() as conn, conn.transaction():
        await write_difference(conn, EMPTY, registry)
    return pool


async def walk(
    pool: asyncpg.Pool,
    compile_page: Callable[[str | None], CompiledSearch],
    columns: tuple[str, ...],
) -> list[tuple]:  # type: ignore[type-arg]
    found: list[tuple] = []  # type: ignore[type-arg]
    token = None
    for _ in range(1000):
        compiled = compile_page(token)
        page, token = compiled.page(await pool.fetch(compiled.sql, *compiled.args))
        found += [tuple(row[c] for c in columns) for row in page]
        if token is None:
            return found
    raise AssertionError("still paging")


MODEL_FILTERS = [
    "",
    "tag.`mlflow.prompt.is_prompt` != 'true'",
    "tags.`mlflow.prompt.is_prompt` = 'true'",
    "tags.`mlflow.prompt.is_prompt` != 'false'",
    "tags.`mlflow.prompt.is_prompt` = 'false'",
    "tags.`mlflow.prompt.is_prompt` LIKE 't%'",
    "name LIKE 'fraud%'",
    "name ILIKE 'fraud%'",
    "name LIKE '50\\%%'",
    "name LIKE 'a\\_b%'",
    "name LIKE '%_00_'",
    "name ILIKE 'émile%'",
    "name = 'zeta-007'",
    "name != 'zeta-007'",
    "name IN ('churn-002', 'Fraud-001', 'zeta-119', 'missing')",
    "name NOT IN ('churn-002', 'Fraud-001')",
    "tags.team = 'vision'",
    "tags.team ILIKE 'vision'",
    "tags.team != 'vision'",
    "tags.team LIKE '%i%' AND tags.owner = 'bob'",
    "tags.owner != 'alice' AND name LIKE '%1%'",
    "name LIKE 'renamed-%'",
]
MODEL_ORDERS = [
    [],
    ["name DESC"],
    ["timestamp DESC"],
    ["last_updated_timestamp"],
    ["timestamp", "name DESC"],
]


@pytest.mark.parametrize("filter_string", MODEL_FILTERS)
async def test_registered_model_search_matches_the_oracle(
    loaded: asyncpg.Pool, registry: RegistryState, filter_string: str
) -> None:
    for order_by in MODEL_ORDERS:
        expected = search_oracle.search_registered_models(registry, filter_string, order_by)
        for page_size in (7, 1000):
            found = await walk(
                loaded,
                lambda token, o=order_by, n=page_size: compile_registered_model_search(
                    RegisteredModelSearch(filter_string, o, n, token)
                ),
                ("name",),
            )
            assert [f[0] for f in found] == expected, (filter_string, order_by, page_size)


VERSION_FILTERS = [
    "",
    "name LIKE 'fraud%'",
    "name ILIKE 'FRAUD%' AND version_number > 2",
    "name IN ('churn-002', 'Fraud-001', 'zeta-119')",
    "name NOT IN ('churn-002')",
    "version_number = 3",
    "version_number != '3'",
    "version_number <= 2",
    "run_id = 'run1'",
    "run_id != 'run1'",
    "run_id IN ('run1', 'Run3')",
    "run_id NOT IN ('run1')",
    "source_path LIKE 's3://%'",
    "source_path = 'models:/m-1'",
    "tags.stage = 'candidate'",
    "tags.stage ILIKE 'candidate'",
    "tags.stage != 'late'",
    "tags.`mlflow.prompt.is_prompt` = 'true'",
    "tags.`mlflow.prompt.is_prompt` != 'true'",
    "name LIKE 'renamed-%'",
]
VERSION_ORDERS = [
    [],
    ["name", "version_number"],
    ["creation_timestamp DESC"],
    ["last_updated_timestamp"],
    ["version_number DESC", "name DESC"],
]


@pytest.mark.parametrize("filter_string", VERSION_FILTERS)
async def test_model_version_search_matches_the_oracle(
    loaded: asyncpg.Pool, registry: RegistryState, filter_string: str
) -> None:
    for order_by in VERSION_ORDERS:
        expected = search_oracle.search_model_versions(registry, filter_string, order_by)
        for page_size in (9, 200_000):
            found = await walk(
                loaded,
                lambda token, o=order_by, n=page_size: compile_model_version_search(
                    ModelVersionSearch(filter_string, o, n, token)
                ),
                ("name", "version"),
            )
            assert found == expected, (filter_string, order_by, page_size)


async def test_the_registry_is_big_enough(registry: RegistryState) -> None:
    versions = [v for m in registry.models.values() for v in m.versions.values()]
    assert len(registry.models) >= 100 and len(versions) >= 280
    assert any(v.deleted for v in versions)
    assert any(m.name.startswith("renamed-") for m in registry.models.values())
    assert any(m.is_prompt for m in registry.models.values())


async def test_search_results_are_mlflows_json(
    loaded: asyncpg.Pool, registry: RegistryState
) -> None:
    models, token = await reads.search_registered_models(loaded, "", 1000)
    assert token is None
    names = search_oracle.search_registered_models(registry)
    assert models == [registered_model_json(registry.models[n]) for n in names]
    versions, token = await reads.search_model_versions(loaded, "name LIKE 'f%'", 5)
    expected = search_oracle.search_model_versions(registry, "name LIKE 'f%'")[:5]
    assert versions == [version_json(registry.models[n], v) for n, v in expected]
    assert token is not None
    more, _ = await reads.search_model_versions(loaded, "name LIKE 'f%'", 5, None, token)
    assert [(v["name"], int(v["version"])) for v in more] == search_oracle.search_model_versions(
        registry, "name LIKE 'f%'"
    )[5:10]


async def test_bad_searches_raise_search_error(loaded: asyncpg.Pool) -> None:
    with pytest.raises(SearchError):
        await reads.search_registered_models(loaded, "name > 'a'")
    with pytest.raises(SearchError):
        await reads.search_model_versions(loaded, "version_number = 1.5")
    with pytest.raises(SearchError):
        await reads.search_registered_models(loaded, "", 10, ["name"], "not-a-token")


async def test_pages_hold_while_models_come_and_go(
    loaded: asyncpg.Pool, registry: RegistryState
) -> None:
    """Keyset pages: a model present throughout a paging session is returned exactly once even
    when others are created and deleted between pages (MLflow's OFFSET pages would shift)."""
    expected = search_oracle.search_registered_models(registry, "", ["name"])
    seen: list[str] = []
    token = None
    turn = 0
    while True:
        page, token = await reads.search_registered_models(loaded, "", 10, ["name"], token)
        seen += [m["name"] for m in page]
        turn += 1
        async with loaded.acquire() as conn:
            await conn.execute(
                "INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp)"
                " VALUES ($1, 0, 0), ($2, 0, 0)",
                f"0-new-{turn}",
                f"zzz-new-{turn}",
            )
            await conn.execute("DELETE FROM registered_models WHERE name = $1", f"0-new-{turn}")
        if token is None:
            break
    stable = [name for name in seen if "-new-" not in name]
    assert stable == expected
