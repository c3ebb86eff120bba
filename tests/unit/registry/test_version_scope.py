"""``versions_read``: deciding an event on a state that holds only the versions it names decides
the same as on the whole state, and changes nothing outside them. The projector relies on it to
load one version of a model instead of its whole history for each write."""

from __future__ import annotations

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
from services.registry import (
    EMPTY,
    REGISTRY_EVENT_TYPES,
    Applied,
    RegistryRejection,
    RegistryState,
    VersionScope,
    apply,
    versions_read,
)
from tests.unit.registry.builders import event

SETUP: list[Payload] = [
    RegisteredModelCreated(name="m", tags=[Tag(key="team", value="a")]),
    RegisteredModelCreated(name="other"),
    *(ModelVersionCreated(name="m", source=f"s3://b/{n}") for n in range(1, 8)),
    ModelVersionTagSet(name="m", version=2, key="k", value="v"),
    ModelVersionStageTransitioned(name="m", version=1, stage="Production"),
    ModelVersionStageTransitioned(name="m", version=2, stage="Staging"),
    ModelVersionStageTransitioned(name="m", version=3, stage="Staging"),
    ModelVersionStageTransitioned(name="m", version=4, stage="Archived"),
    ModelVersionDeleted(name="m", version=5),
    ModelAliasSet(name="m", alias="champion", version=2),
    ModelAliasSet(name="m", alias="old", version=1),
]

EVENTS: list[Payload] = [
    RegisteredModelCreated(name="m"),  # refused: exists
    RegisteredModelCreated(name="new"),
    RegisteredModelRenamed(name="m", new_name="n"),
    RegisteredModelRenamed(name="m", new_name="other"),  # refused
    RegisteredModelUpdated(name="m", description="d"),
    RegisteredModelDeleted(name="m"),
    RegisteredModelTagSet(name="m", key="k", value="v"),
    RegisteredModelTagDeleted(name="m", key="team"),
    RegisteredModelTagDeleted(name="m", key="absent"),
    ModelVersionCreated(name="m", source="s3://b/8"),
    ModelVersionCreated(name="absent", source="s3://b/1"),  # refused
    ModelVersionUpdated(name="m", version=3, description="better"),
    ModelVersionUpdated(name="m", version=5, description="deleted"),  # refused
    ModelVersionDeleted(name="m", version=2),
    ModelVersionDeleted(name="m", version=99),  # refused
    ModelVersionStageTransitioned(name="m", version=6, stage="staging"),
    ModelVersionStageTransitioned(
        name="m", version=6, stage="Staging", archive_existing_versions=True
    ),
    ModelVersionStageTransitioned(
        name="m", version=3, stage="production", archive_existing_versions=True
    ),
    ModelVersionStageTransitioned(
        name="m", version=6, stage="Archived", archive_existing_versions=True
    ),  # refused: only active stages archive the others
    ModelVersionStageTransitioned(
        name="m", version=6, stage="Nowhere", archive_existing_versions=True
    ),  # refused: no such stage
    ModelVersionTagSet(name="m", version=2, key="k", value="w"),
    ModelVersionTagDeleted(name="m", version=2, key="k"),
    ModelVersionTagDeleted(name="m", version=3, key="absent"),
    ModelAliasSet(name="m", alias="champion", version=3),
    ModelAliasSet(name="m", alias="x", version=5),  # refused: a deleted version
    ModelAliasDeleted(name="m", alias="old"),
    ModelAliasDeleted(name="m", alias="absent"),
    PromotionDecided(name="m", version=2, passed=True, conditions=[]),
    PromotionDecided(name="m", version=99, passed=False, conditions=[]),  # refused
]


def _state() -> RegistryState:
    state = EMPTY
    for second, payload in enumerate(SETUP):
        state = apply(state, event(payload, second)).state
    return state


def _within(state: RegistryState, scope: VersionScope) -> RegistryState:
    """The state as the projector loads it for ``scope``."""
    return RegistryState(
        models={
            name: model.model_copy(
                update={
                    "versions": {
                        number: version
                        for number, version in model.versions.items()
                        if number in scope.numbers or version.current_stage == scope.stage
                    }
                }
            )
            for name, model in state.models.items()
        }
    )


def _decide(state: RegistryState, payload: Payload) -> Applied | tuple[str, str]:
    try:
        return apply(state, event(payload, 100))
    except RegistryRejection as refusal:
        return (refusal.error_code, refusal.message)


def test_every_registry_event_type_is_covered_here() -> None:
    assert {payload.TYPE for payload in EVENTS} == REGISTRY_EVENT_TYPES


@pytest.mark.parametrize("payload", EVENTS, ids=lambda p: f"{p.TYPE}:{p!r}"[:80])
def test_deciding_within_the_scope_decides_the_same(payload: Payload) -> None:
    state = _state()
    scope = versions_read(payload)
    whole = _decide(state, payload)
    if scope is None:  # reads every version: the projector loads them all
        return
    part = _decide(_within(state, scope), payload)
    if not isinstance(whole, Applied):
        assert part == whole
        return
    assert isinstance(part, Applied)
    assert part.outcome == whole.outcome
    assert set(part.state.models) == set(whole.state.models)
    for name, model in whole.state.models.items():
        scoped = part.state.models[name]
        # everything but the versions, then the versions that were loaded, are the same
        assert scoped.model_copy(update={"versions": {}}) == model.model_copy(
            update={"versions": {}}
        )
        assert {n: model.versions[n] for n in scoped.versions} == scoped.versions
        # and the versions that were not loaded did not change
        before = state.models.get(name)
        for number, version in model.versions.items():
            if number not in scoped.versions:
                assert before is not None and before.versions[number] == version, (name, number)


def test_the_scope_is_one_version_or_the_stage_it_archives() -> None:
    assert versions_read(ModelAliasSet(name="m", alias="a", version=3)) == VersionScope(
        frozenset({3})
    )
    assert versions_read(ModelVersionCreated(name="m", source="s")) == VersionScope()
    archive = ModelVersionStageTransitioned(
        name="m", version=3, stage="production", archive_existing_versions=True
    )
    assert versions_read(archive) == VersionScope(frozenset({3}), "Production")
    assert versions_read(RegisteredModelDeleted(name="m")) is None
    assert versions_read(RegisteredModelRenamed(name="m", new_name="n")) is None
