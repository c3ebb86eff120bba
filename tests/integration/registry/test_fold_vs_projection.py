"""Property: the pure fold and the SQL projection are one registry.

Hypothesis plays several clients (each with its own clock) issuing registry operations against
a few shared names, interleaved at random. Each event goes through project_batch on its own (as
the control partition delivers them); after each one the live read model is recorded through the
read queries. Then, from the audit log: the fold re-decides every event as the projector did,
``as_of`` each point reads exactly as the live read model did at that point, and at the end the
read model holds exactly the fold's state.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import (
    SYSTEM_ACTOR,
    Actor,
    Envelope,
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
    new_event,
)
from services.registry import (
    EMPTY,
    RegistryRejection,
    RegistryState,
    apply,
    as_of,
    decisions,
    recorded,
    registered_model_json,
    version_json,
)
from services.store import registry as reads
from tests.integration.registry.conftest import ControlLog
from tests.unit.registry import search_oracle
from tests.unit.registry.builders import T0

CLIENTS = [
    (Actor(name="alice", kind="authenticated"), timedelta(0)),
    (Actor(name="ci-bot", kind="self_reported"), timedelta(seconds=-3)),  # a slow clock
    (SYSTEM_ACTOR, timedelta(milliseconds=400)),
]
_examples = itertools.count()

Snapshot = tuple[dict[str, Any], list[dict[str, Any]]]


def _live_versions(state: RegistryState, name: str) -> list[int]:
    model = state.models.get(name)
    return [n for n, v in model.versions.items() if not v.deleted] if model else []


def draw_payload(data: st.DataObject, state: RegistryState, names: list[str]) -> Payload:
    """One operation, aimed mostly at models and versions that exist (so most are accepted)."""
    existing = [n for n in names if n in state.models]
    if not existing:  # nothing to work on yet: someone registers a model first
        return data.draw(
            st.builds(
                RegisteredModelCreated,
                name=st.sampled_from(names),
                description=st.none() | st.just("d"),
                tags=st.lists(st.builds(Tag, key=st.just("team"), value=st.just("x")), max_size=1),
            )
        )
    name = data.draw(
        st.sampled_from(existing) if data.draw(st.integers(0, 9)) > 0 else st.sampled_from(names)
    )
    live = _live_versions(state, name)
    top = state.models[name].last_version + 1 if name in state.models else 2
    version = data.draw(
        st.sampled_from(live) if live and data.draw(st.integers(0, 5)) else st.integers(1, top)
    )
    text = st.sampled_from(["a", "b", ""])
    tag = st.builds(Tag, key=st.sampled_from(["k", "team"]), value=text)
    alias = st.sampled_from(["champion", "challenger"])
    # the simplest draw (what hypothesis shrinks towards) is a new version: the common case
    kind = data.draw(
        st.sampled_from(
            [
                *("version", "stage", "alias", "version", "stage", "create", "alias", "stage"),
                *("version", "unalias", "delete_version", "rename", "delete", "update"),
                *("update_version", "tag", "untag", "version_tag", "version_untag", "decision"),
            ]
        )
    )
    absent = [n for n in names if n not in state.models]
    if kind == "create" and absent and data.draw(st.integers(0, 3)):
        name = data.draw(st.sampled_from(absent))  # mostly a new model, sometimes a duplicate
    options: dict[str, Any] = {
        "create": st.builds(
            RegisteredModelCreated,
            name=st.just(name),
            description=st.none() | text,
            tags=st.lists(tag, max_size=2),
        ),
        "version": st.builds(
            ModelVersionCreated,
            name=st.just(name),
            source=st.sampled_from(["s3://b/x", "models:/m-1"]),
            run_id=st.none() | st.sampled_from(["r1", "r2"]),
            run_link=st.none() | text,
            description=st.none() | text,
            model_id=st.none() | st.just("m-1"),
            tags=st.lists(tag, max_size=2),
        ),
        "stage": st.builds(
            ModelVersionStageTransitioned,
            name=st.just(name),
            version=st.just(version),
            stage=st.sampled_from(["None", "Staging", "production", "Archived", "Prod"]),
            archive_existing_versions=st.booleans(),
        ),
        "alias": st.builds(
            ModelAliasSet, name=st.just(name), alias=alias, version=st.just(version)
        ),
        "unalias": st.builds(ModelAliasDeleted, name=st.just(name), alias=alias),
        "delete_version": st.just(ModelVersionDeleted(name=name, version=version)),
        "rename": st.builds(
            RegisteredModelRenamed, name=st.just(name), new_name=st.sampled_from(names)
        ),
        "delete": st.just(RegisteredModelDeleted(name=name)),
        "update": st.builds(
            RegisteredModelUpdated, name=st.just(name), description=st.none() | text
        ),
        "update_version": st.builds(
            ModelVersionUpdated, name=st.just(name), version=st.just(version), description=text
        ),
        "tag": st.builds(RegisteredModelTagSet, name=st.just(name), key=st.just("k"), value=text),
        "untag": st.builds(RegisteredModelTagDeleted, name=st.just(name), key=st.just("k")),
        "version_tag": st.builds(
            ModelVersionTagSet,
            name=st.just(name),
            version=st.just(version),
            key=st.just("k"),
            value=text,
        ),
        "version_untag": st.builds(
            ModelVersionTagDeleted,
            name=st.just(name),
            version=st.just(version),
            key=st.just("team"),
        ),
        "decision": st.builds(
            PromotionDecided,
            name=st.just(name),
            version=st.just(version),
            target_stage=st.just("Production"),
            passed=st.booleans(),
            conditions=st.just([]),
        ),
    }
    return data.draw(options[kind])


async def live_snapshot(pool: asyncpg.Pool, prefix: str, names: list[str]) -> Snapshot:
    models = {name: await reads.registered_model(pool, name) for name in names}
    found, token = await reads.search_model_versions(pool, f"name LIKE '{prefix}%'", 1000)
    assert token is None
    # search leaves aliases out (as MLflow's does); read the found versions whole
    keys = [(v["name"], int(v["version"])) for v in found]
    return models, await reads.model_versions_json(pool, keys)


def folded_snapshot(state: RegistryState, prefix: str, names: list[str]) -> Snapshot:
    models = {
        name: registered_model_json(state.models[name]) if name in state.models else None
        for name in names
    }
    found = search_oracle.search_model_versions(state, f"name LIKE '{prefix}%'")
    return models, [version_json(state.models[name], number) for name, number in found]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_the_fold_and_the_projection_agree(
    pool: asyncpg.Pool, control: ControlLog, data: st.DataObject
) -> None:
    example = next(_examples)
    prefix = f"x{example}-"
    names = [f"{prefix}{c}" for c in "abc"]
    start_seq = await pool.fetchval("SELECT coalesce(max(seq), 0) FROM audit_log")
    turns = data.draw(st.lists(st.integers(0, len(CLIENTS) - 1), min_size=10, max_size=40))

    state = EMPTY  # what the clients see (the fold so far) to aim their operations
    events: list[Envelope] = []
    snapshots: list[Snapshot] = []
    for step, client in enumerate(turns):
        actor, skew = CLIENTS[client]
        payload = draw_payload(data, state, names)
        envelope = new_event(
            payload,
            actor=actor,
            source="property-test",
            occurred_at=T0 + timedelta(hours=example, seconds=step / 4) + skew,
        )
        events.append(envelope)
        await control.one(envelope)
        snapshots.append(await live_snapshot(pool, prefix, names))
        with contextlib.suppress(RegistryRejection):
            state = apply(state, envelope).state

    logged = await reads.registry_events(pool, after_seq=start_seq)
    assert [r.event.event_id for r in logged] == [e.event_id for e in events]
    # a replay decides exactly as the projector did, code for code
    assert [(r.verdict, r.error_code) for r in logged] == [
        (verdict, code) for _, verdict, code in decisions(logged)
    ]
    fresh = decisions(recorded(events))  # straight from the envelopes, no log involved
    assert [d[1:] for d in fresh] == [d[1:] for d in decisions(logged)]
    # as of each point, the log reads as the live read model did
    for record, snapshot in zip(logged, snapshots, strict=True):
        assert folded_snapshot(as_of(logged, at_seq=record.seq), prefix, names) == snapshot
    # and the read model holds exactly the fold's state
    print(
        "STATS",
        len(events),
        sum(r.verdict == "accepted" for r in logged),
        len(state.models),
        sum(len(m.versions) for m in state.models.values()),
    )
    live = await reads.load_state(pool, names)
    assert live == state == as_of(logged, at_seq=logged[-1].seq)
