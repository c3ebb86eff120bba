"""The registry projection against real PostgreSQL: every event type through project_batch,
verdicts and outcomes, the read model (checked against the fold), the read queries, and the
audit log read back for history."""

from __future__ import annotations

import asyncpg
import pytest

from schemas import (
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagDeleted,
    ModelVersionTagSet,
    ModelVersionUpdated,
    Payload,
    PromotionDecided,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagSet,
    RegisteredModelUpdated,
    Tag,
)
from services.projector.handlers.registry import write_difference
from services.registry import EMPTY, as_of, fold, history, registered_model_json, version_json
from services.registry.errors import RegistryError
from services.store import registry as reads
from tests.integration.registry.conftest import ControlLog
from tests.unit.registry.builders import BOB, event, ms


class Recorder:
    """Projects payloads one second apart and keeps the envelopes for the fold."""

    def __init__(self, control: ControlLog) -> None:
        self.control = control
        self.events: list = []

    async def __call__(self, payload: Payload, actor=None):  # type: ignore[no-untyped-def]
        envelope = event(payload, len(self.events), **({"actor": actor} if actor else {}))
        self.events.append(envelope)
        return await self.control.one(envelope)


@pytest.fixture
def send(control: ControlLog) -> Recorder:
    return Recorder(control)


async def assert_read_model_is_the_fold(pool: asyncpg.Pool, send: Recorder) -> None:
    assert await reads.load_state(pool) == fold(send.events)


async def test_model_lifecycle(pool: asyncpg.Pool, send: Recorder) -> None:
    created = await send(
        RegisteredModelCreated(name="m", description="d", tags=[Tag(key="team", value="a")])
    )
    assert created.accepted and created.outcome is None
    assert await reads.registered_model(pool, "m") == {
        "name": "m",
        "creation_timestamp": ms(0),
        "last_updated_timestamp": ms(0),
        "user_id": "alice",
        "description": "d",
        "tags": [{"key": "team", "value": "a"}],
    }
    duplicate = await send(RegisteredModelCreated(name="m"))
    assert (duplicate.accepted, duplicate.error_code, duplicate.reason) == (
        False,
        "RESOURCE_ALREADY_EXISTS",
        "Registered Model (name=m) already exists.",
    )
    assert (await send(RegisteredModelUpdated(name="m", description="new"))).accepted
    assert (await send(RegisteredModelTagSet(name="m", key="team", value="b"))).accepted
    assert (await send(RegisteredModelTagSet(name="m", key="x", value="y"))).accepted
    assert (await send(RegisteredModelTagDeleted(name="m", key="x"))).outcome == {"deleted": True}
    assert (await send(RegisteredModelTagDeleted(name="m", key="x"))).outcome == {"deleted": False}
    body = await reads.registered_model(pool, "m")
    assert body is not None
    assert (body["description"], body["tags"], body["last_updated_timestamp"]) == (
        "new",
        [{"key": "team", "value": "b"}],
        ms(2),
    )
    await assert_read_model_is_the_fold(pool, send)

    missing = await send(RegisteredModelUpdated(name="nope", description="x"))
    assert (missing.error_code, missing.reason) == (
        "RESOURCE_DOES_NOT_EXIST",
        "Registered Model with name=nope not found",
    )
    assert (await send(RegisteredModelDeleted(name="m"))).accepted
    assert await reads.registered_model(pool, "m") is None
    for table in ("registered_models", "registered_model_tags", "model_versions"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0


async def test_versions_stages_and_aliases(pool: asyncpg.Pool, send: Recorder) -> None:
    await send(RegisteredModelCreated(name="m"))
    for i in range(1, 5):
        verdict = await send(
            ModelVersionCreated(
                name="m",
                source=f"s3://b/{i}",
                run_id=f"r{i}",
                tags=[Tag(key="k", value=str(i))],
                description="" if i == 2 else None,
                model_id=f"m-{i}" if i == 3 else None,
            ),
            actor=BOB,
        )
        assert verdict.outcome == {"version": i}
    assert (await send(ModelVersionUpdated(name="m", version=2, description="two"))).accepted
    assert (await send(ModelVersionTagSet(name="m", version=2, key="k", value="x"))).accepted
    assert (await send(ModelVersionTagDeleted(name="m", version=1, key="k"))).accepted
    for number, stage in [(1, "production"), (2, "Production"), (3, "staging")]:
        assert (
            await send(ModelVersionStageTransitioned(name="m", version=number, stage=stage))
        ).accepted
    archive = await send(
        ModelVersionStageTransitioned(
            name="m", version=4, stage="Production", archive_existing_versions=True
        )
    )
    assert archive.outcome == {"version": 4, "stage": "Production", "archived_versions": [1, 2]}
    invalid = await send(ModelVersionStageTransitioned(name="m", version=4, stage="Prod"))
    assert (invalid.error_code, invalid.reason) == (
        "INVALID_PARAMETER_VALUE",
        "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, "
        "Archived.",
    )
    cannot = await send(
        ModelVersionStageTransitioned(
            name="m", version=4, stage="Archived", archive_existing_versions=True
        )
    )
    assert cannot.error_code == "INTERNAL_ERROR"
    assert (await send(ModelAliasSet(name="m", alias="champion", version=2))).accepted
    moved = await send(ModelAliasSet(name="m", alias="champion", version=4))
    assert moved.outcome == {"version": 4, "previous_version": 2}
    assert (await send(ModelAliasSet(name="m", alias="old", version=1))).accepted
    assert (await send(ModelAliasSet(name="m", alias="gone", version=1))).accepted
    assert (await send(ModelAliasDeleted(name="m", alias="gone"))).outcome == {"deleted": True}
    assert (await send(ModelAliasDeleted(name="m", alias="gone"))).outcome == {"deleted": False}
    missing = await send(ModelAliasSet(name="m", alias="x", version=9))
    assert missing.reason == "Model Version (name=m, version=9) not found"
    await assert_read_model_is_the_fold(pool, send)

    v4 = await reads.model_version(pool, "m", 4)
    assert v4 is not None
    assert (v4["version"], v4["current_stage"], v4["aliases"], v4["user_id"]) == (
        "4",
        "Production",
        ["champion"],
        "bob",
    )
    assert (await reads.model_version(pool, "m", 2))["description"] == "two"  # type: ignore[index]
    assert (await reads.model_version(pool, "m", 3))["model_id"] == "m-3"  # type: ignore[index]
    assert await reads.model_version(pool, "m", 9) is None
    assert await reads.model_version_by_alias(pool, "m", "champion") == v4
    latest = await reads.latest_versions(pool, "m")
    # stages in the order their lowest version shows them: 1 Archived, 3 Staging, 4 Production
    assert [(v["version"], v["current_stage"]) for v in latest] == [
        ("2", "Archived"),
        ("3", "Staging"),
        ("4", "Production"),
    ]
    assert [v["version"] for v in await reads.latest_versions(pool, "m", ["staging"])] == ["3"]
    assert (await reads.model_version_by_alias(pool, "m", "Latest"))["version"] == "4"
    state = fold(send.events)
    assert await reads.registered_model(pool, "m") == registered_model_json(state.models["m"])

    # deleting a version keeps its number taken and drops its aliases
    deleted = await send(ModelVersionDeleted(name="m", version=4))
    assert deleted.outcome == {"version": 4, "removed_aliases": ["champion"]}
    assert await reads.model_version(pool, "m", 4) is None
    assert (await send(ModelVersionCreated(name="m", source="s3://b/5"))).outcome == {"version": 5}
    assert await pool.fetchval("SELECT count(*) FROM model_versions") == 5
    assert await pool.fetchval("SELECT count(*) FROM registered_model_aliases") == 1
    await assert_read_model_is_the_fold(pool, send)

    passed = await send(PromotionDecided(name="m", version=5, passed=True, conditions=[]))
    assert passed.accepted and passed.outcome == {"passed": True}
    await assert_read_model_is_the_fold(pool, send)


async def test_read_query_errors(pool: asyncpg.Pool, send: Recorder) -> None:
    await send(RegisteredModelCreated(name="m"))
    cases = [
        (reads.model_version_by_alias(pool, "nope", "a"), "RESOURCE_DOES_NOT_EXIST"),
        (reads.model_version_by_alias(pool, "m", "a"), "INVALID_PARAMETER_VALUE"),
        (reads.model_version_by_alias(pool, "m", "latest"), "RESOURCE_DOES_NOT_EXIST"),
        (reads.latest_versions(pool, "nope"), "RESOURCE_DOES_NOT_EXIST"),
        (reads.latest_versions(pool, "m", ["Prod"]), "INVALID_PARAMETER_VALUE"),
    ]
    messages = []
    for call, code in cases:
        with pytest.raises(RegistryError) as caught:
            await call
        assert caught.value.error_code == code
        messages.append(caught.value.message)
    assert messages == [
        "Registered Model with name=nope not found",
        "Registered model alias a not found.",
        "Latest version not found for model m.",
        "Registered Model with name=nope not found",
        "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, "
        "Archived.",
    ]
    assert await reads.latest_versions(pool, "m") == []


async def test_rename_carries_everything(pool: asyncpg.Pool, send: Recorder) -> None:
    await send(RegisteredModelCreated(name="m", tags=[Tag(key="t", value="1")]))
    await send(ModelVersionCreated(name="m", source="s", tags=[Tag(key="k", value="v")]))
    await send(ModelVersionCreated(name="m", source="s"))
    await send(ModelAliasSet(name="m", alias="a", version=1))
    await send(ModelVersionDeleted(name="m", version=2))
    await send(RegisteredModelCreated(name="other"))
    taken = await send(RegisteredModelRenamed(name="m", new_name="other"))
    assert taken.error_code == "RESOURCE_ALREADY_EXISTS"
    renamed = await send(RegisteredModelRenamed(name="m", new_name="n"))
    assert renamed.outcome == {"previous_name": "m"}
    assert await reads.registered_model(pool, "m") is None
    for table in (
        "model_versions",
        "model_version_tags",
        "registered_model_tags",
        "registered_model_aliases",
    ):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE name = 'm'") == 0
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE name = 'n'") > 0
    assert (await reads.model_version_by_alias(pool, "n", "a"))["name"] == "n"
    # numbering continues after the rename
    assert (await send(ModelVersionCreated(name="n", source="s"))).outcome == {"version": 3}
    await assert_read_model_is_the_fold(pool, send)
    state = fold(send.events)
    assert await reads.model_version(pool, "n", 1) == version_json(state.models["n"], 1)


async def test_history_from_the_audit_log(pool: asyncpg.Pool, send: Recorder) -> None:
    await send(RegisteredModelCreated(name="m"))
    await send(ModelVersionCreated(name="m", source="s"))
    await send(ModelVersionStageTransitioned(name="m", version=1, stage="Production"))
    await send(ModelAliasSet(name="m", alias="a", version=7))  # rejected
    await send(RegisteredModelRenamed(name="m", new_name="n"))
    await send(ModelVersionStageTransitioned(name="n", version=1, stage="Archived"))
    recorded = await reads.registry_events(pool)
    assert [r.verdict for r in recorded] == ["accepted"] * 3 + ["rejected"] + ["accepted"] * 2
    assert recorded[3].reason == "Model Version (name=m, version=7) not found"
    entries = history(recorded, "n", version=1)
    assert [(e.event_type, e.after.current_stage) for e in entries] == [  # type: ignore[union-attr]
        ("model_version.created", "None"),
        ("model_version.stage_transitioned", "Production"),
        ("registered_model.renamed", "Production"),
        ("model_version.stage_transitioned", "Archived"),
    ]
    assert len(history(recorded, "n")) == 6
    assert as_of(recorded, at_seq=recorded[-1].seq) == await reads.load_state(pool)
    production = as_of(recorded, at_seq=recorded[2].seq)
    assert production.models["m"].versions[1].current_stage == "Production"


async def test_bulk_load_of_a_whole_state(pool: asyncpg.Pool) -> None:
    payloads: list[Payload] = []
    for m in range(20):
        payloads.append(RegisteredModelCreated(name=f"m{m}", tags=[Tag(key="i", value=str(m))]))
        for _ in range(m % 4):
            payloads.append(
                ModelVersionCreated(name=f"m{m}", source="s", tags=[Tag(key="k", value="v")])
            )
        if m % 4:
            payloads.append(ModelAliasSet(name=f"m{m}", alias="a", version=1))
    state = fold(event(p, i) for i, p in enumerate(payloads))
    async with pool.acquire() as conn, conn.transaction():
        await write_difference(conn, EMPTY, state)
    assert await reads.load_state(pool) == state
