"""``apply(state, event)``: the registry's decisions, as MLflow 3.17.2's SQL store makes them.

Pure: no I/O, no clock (time is the event's ``occurred_at``), no randomness. The projector calls
it with the affected models loaded from the read model; history and as-of fold it over the log
from empty. Either way the same events give the same states and the same verdicts.

Timestamps follow MLflow's bookkeeping: creating a version, transitioning one, deleting one,
renaming and updating a model bump the model's ``last_updated_timestamp``; updating, transitioning,
archiving, deleting and renaming bump a version's. Tags and aliases bump nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import singledispatch
from typing import Any

from schemas import (
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
)
from services.registry.errors import (
    RegistryError,
    RegistryRejection,
    already_exists,
    cannot_archive,
    model_not_found,
    version_not_found,
)
from services.registry.state import (
    ACTIVE_STAGES,
    EMPTY,
    IS_PROMPT_TAG,
    STAGE_ARCHIVED,
    STAGE_DELETED_INTERNAL,
    ModelVersion,
    RegisteredModel,
    RegistryState,
    canonical_stage,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

REGISTRY_EVENT_TYPES = frozenset(
    {
        RegisteredModelCreated.TYPE,
        RegisteredModelRenamed.TYPE,
        RegisteredModelUpdated.TYPE,
        RegisteredModelDeleted.TYPE,
        RegisteredModelTagSet.TYPE,
        RegisteredModelTagDeleted.TYPE,
        ModelVersionCreated.TYPE,
        ModelVersionUpdated.TYPE,
        ModelVersionDeleted.TYPE,
        ModelVersionStageTransitioned.TYPE,
        ModelVersionTagSet.TYPE,
        ModelVersionTagDeleted.TYPE,
        ModelAliasSet.TYPE,
        ModelAliasDeleted.TYPE,
        PromotionDecided.TYPE,
    }
)
"""Every event type the registry decides on."""


@dataclass(frozen=True, slots=True)
class Applied:
    """An accepted event: the state after it, and what the writer needs back."""

    state: RegistryState
    outcome: dict[str, Any] | None = None


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the epoch, in exact integer arithmetic (no float rounding)."""
    return (moment - _EPOCH) // _MILLISECOND


def apply(state: RegistryState, event: Envelope) -> Applied:
    """Decide ``event`` against ``state``: the new state, or ``RegistryRejection`` with MLflow's
    error code and message. Events of other domains leave the state as it is."""
    return _decide(event.payload, state, event)


def fold(events: Iterable[Envelope], state: RegistryState = EMPTY) -> RegistryState:
    """The state after deciding ``events`` in order; rejected ones change nothing."""
    for event in events:
        with contextlib.suppress(RegistryRejection):
            state = apply(state, event).state
    return state


def names_of(payload: Payload) -> tuple[str, ...]:
    """The registered models a registry event reads or writes: its name, and a rename's target."""
    if isinstance(payload, RegisteredModelRenamed):
        return (payload.name, payload.new_name)
    name = getattr(payload, "name", None)
    return (name,) if isinstance(name, str) else ()


@dataclass(frozen=True, slots=True)
class VersionScope:
    """Some versions of the named models: those numbered ``numbers``, and those in ``stage``."""

    numbers: frozenset[int] = frozenset()
    stage: str | None = None


_READS_NO_VERSION = (
    RegisteredModelCreated,
    RegisteredModelUpdated,
    RegisteredModelTagSet,
    RegisteredModelTagDeleted,
    ModelVersionCreated,  # the next number is the model's last_version + 1
    ModelAliasDeleted,
)
_READS_ITS_VERSION = (
    ModelVersionUpdated,
    ModelVersionDeleted,
    ModelVersionTagSet,
    ModelVersionTagDeleted,
    ModelAliasSet,
    PromotionDecided,
)


def versions_read(payload: Payload) -> VersionScope | None:
    """The versions of its models that deciding this event reads or changes; None for all of
    them (a rename touches every version, a deletion lists the live ones, and so does any event
    type not named here). ``apply`` on a state holding only these versions decides the same and
    changes only them, so the projector need not load a model's whole history for one write."""
    if isinstance(payload, _READS_NO_VERSION):
        return VersionScope()
    if isinstance(payload, _READS_ITS_VERSION):
        return VersionScope(frozenset({payload.version}))
    if isinstance(payload, ModelVersionStageTransitioned):
        stage = None
        if payload.archive_existing_versions:
            with contextlib.suppress(RegistryError):  # an invalid stage is refused first
                stage = canonical_stage(payload.stage)
        return VersionScope(frozenset({payload.version}), stage)
    return None


# ---------------------------------------------------------------------------------------------
# Lookups


def _rejected(error: RegistryError) -> RegistryRejection:
    return RegistryRejection(error.error_code, error.message, error.details)


def _model(state: RegistryState, name: str) -> RegisteredModel:
    model = state.models.get(name)
    if model is None:
        raise _rejected(model_not_found(name))
    return model


def _live_version(state: RegistryState, name: str, number: int) -> tuple[RegisteredModel, int]:
    # MLflow looks the version up by (name, version) alone, so a missing model is reported as a
    # missing version too.
    model = state.models.get(name)
    if model is None or model.live_version(number) is None:
        raise _rejected(version_not_found(name, number))
    return model, number


def _user(event: Envelope) -> str | None:
    return None if event.actor.kind == "anonymous" else event.actor.name


def _with_model(state: RegistryState, model: RegisteredModel) -> RegistryState:
    return RegistryState(models={**state.models, model.name: model})


def _with_version(model: RegisteredModel, number: int, **changes: Any) -> dict[int, ModelVersion]:
    return {**model.versions, number: model.versions[number].model_copy(update=changes)}


# ---------------------------------------------------------------------------------------------
# Decisions, one per payload class


@singledispatch
def _decide(payload: Payload, state: RegistryState, event: Envelope) -> Applied:
    return Applied(state)  # not a registry event


@_decide.register
def _created(payload: RegisteredModelCreated, state: RegistryState, event: Envelope) -> Applied:
    existing = state.models.get(payload.name)
    if existing is not None:
        message = already_exists(
            payload.name,
            existing_is_prompt=IS_PROMPT_TAG in existing.tags,
            new_is_prompt=any(tag.key == IS_PROMPT_TAG for tag in payload.tags),
        )
        raise RegistryRejection("RESOURCE_ALREADY_EXISTS", message)
    now = epoch_millis(event.occurred_at)
    model = RegisteredModel(
        name=payload.name,
        creation_timestamp=now,
        last_updated_timestamp=now,
        user_id=_user(event),
        description=payload.description,
        tags={tag.key: tag.value for tag in payload.tags},  # a repeated key: the last one wins
    )
    return Applied(_with_model(state, model))


@_decide.register
def _renamed(payload: RegisteredModelRenamed, state: RegistryState, event: Envelope) -> Applied:
    model = _model(state, payload.name)
    if payload.new_name != payload.name and payload.new_name in state.models:
        # MLflow appends the database's IntegrityError text here; there is none to append.
        raise RegistryRejection(
            "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={payload.new_name}) already exists."
        )
    now = epoch_millis(event.occurred_at)
    renamed = model.model_copy(
        update={
            "name": payload.new_name,
            "last_updated_timestamp": now,
            # MLflow touches every version, deleted ones included.
            "versions": {
                number: version.model_copy(update={"last_updated_timestamp": now})
                for number, version in model.versions.items()
            },
        }
    )
    models = {name: m for name, m in state.models.items() if name != payload.name}
    models[payload.new_name] = renamed
    return Applied(RegistryState(models=models), {"previous_name": payload.name})


@_decide.register
def _updated(payload: RegisteredModelUpdated, state: RegistryState, event: Envelope) -> Applied:
    model = _model(state, payload.name)
    changed = model.model_copy(
        update={
            "description": payload.description,
            "last_updated_timestamp": epoch_millis(event.occurred_at),
        }
    )
    return Applied(_with_model(state, changed))


@_decide.register
def _deleted(payload: RegisteredModelDeleted, state: RegistryState, event: Envelope) -> Applied:
    model = _model(state, payload.name)
    models = {name: m for name, m in state.models.items() if name != payload.name}
    live = sorted(n for n, v in model.versions.items() if not v.deleted)
    return Applied(RegistryState(models=models), {"deleted_versions": live})


@_decide.register
def _tag_set(payload: RegisteredModelTagSet, state: RegistryState, event: Envelope) -> Applied:
    model = _model(state, payload.name)
    changed = model.model_copy(update={"tags": {**model.tags, payload.key: payload.value}})
    return Applied(_with_model(state, changed))


@_decide.register
def _tag_deleted(
    payload: RegisteredModelTagDeleted, state: RegistryState, event: Envelope
) -> Applied:
    model = _model(state, payload.name)
    if payload.key not in model.tags:
        return Applied(state, {"deleted": False})  # MLflow: a missing tag is no error
    tags = {key: value for key, value in model.tags.items() if key != payload.key}
    return Applied(_with_model(state, model.model_copy(update={"tags": tags})), {"deleted": True})


@_decide.register
def _version_created(
    payload: ModelVersionCreated, state: RegistryState, event: Envelope
) -> Applied:
    model = _model(state, payload.name)
    number = model.last_version + 1
    now = epoch_millis(event.occurred_at)
    version = ModelVersion(
        version=number,
        creation_timestamp=now,
        last_updated_timestamp=now,
        user_id=_user(event),
        description=payload.description,
        source=payload.source,
        run_id=payload.run_id,
        run_link=payload.run_link,
        model_id=payload.model_id,
        tags={tag.key: tag.value for tag in payload.tags},
    )
    changed = model.model_copy(
        update={
            "last_updated_timestamp": now,
            "last_version": number,
            "versions": {**model.versions, number: version},
        }
    )
    return Applied(_with_model(state, changed), {"version": number})


@_decide.register
def _version_updated(
    payload: ModelVersionUpdated, state: RegistryState, event: Envelope
) -> Applied:
    model, number = _live_version(state, payload.name, payload.version)
    versions = _with_version(
        model,
        number,
        description=payload.description,
        last_updated_timestamp=epoch_millis(event.occurred_at),
    )
    changed = model.model_copy(update={"versions": versions})
    return Applied(_with_model(state, changed), {"version": number})


@_decide.register
def _version_deleted(
    payload: ModelVersionDeleted, state: RegistryState, event: Envelope
) -> Applied:
    model, number = _live_version(state, payload.name, payload.version)
    now = epoch_millis(event.occurred_at)
    removed = model.aliases_of(number)
    # MLflow keeps the row (so the number stays taken) under the Deleted_Internal stage, and
    # also redacts its source and run; the event log keeps those anyway, so they stay here.
    changed = model.model_copy(
        update={
            "last_updated_timestamp": now,
            "aliases": {a: v for a, v in model.aliases.items() if v != number},
            "versions": _with_version(
                model, number, current_stage=STAGE_DELETED_INTERNAL, last_updated_timestamp=now
            ),
        }
    )
    return Applied(_with_model(state, changed), {"version": number, "removed_aliases": removed})


@_decide.register
def _stage_transitioned(
    payload: ModelVersionStageTransitioned, state: RegistryState, event: Envelope
) -> Applied:
    # MLflow's order: the stage name, then the archive flag, then the version.
    try:
        stage = canonical_stage(payload.stage)
    except RegistryError as err:
        raise _rejected(err) from None
    if payload.archive_existing_versions and stage not in ACTIVE_STAGES:
        raise RegistryRejection("INTERNAL_ERROR", cannot_archive(payload.stage))
    model, number = _live_version(state, payload.name, payload.version)
    now = epoch_millis(event.occurred_at)
    archived = (
        sorted(
            n
            for n, version in model.versions.items()
            if n != number and version.current_stage == stage
        )
        if payload.archive_existing_versions
        else []
    )
    versions = dict(model.versions)
    for n in archived:
        versions[n] = versions[n].model_copy(
            update={"current_stage": STAGE_ARCHIVED, "last_updated_timestamp": now}
        )
    versions[number] = versions[number].model_copy(
        update={"current_stage": stage, "last_updated_timestamp": now}
    )
    changed = model.model_copy(update={"last_updated_timestamp": now, "versions": versions})
    outcome = {"version": number, "stage": stage, "archived_versions": archived}
    return Applied(_with_model(state, changed), outcome)


@_decide.register
def _version_tag_set(payload: ModelVersionTagSet, state: RegistryState, event: Envelope) -> Applied:
    model, number = _live_version(state, payload.name, payload.version)
    tags = {**model.versions[number].tags, payload.key: payload.value}
    changed = model.model_copy(update={"versions": _with_version(model, number, tags=tags)})
    return Applied(_with_model(state, changed))


@_decide.register
def _version_tag_deleted(
    payload: ModelVersionTagDeleted, state: RegistryState, event: Envelope
) -> Applied:
    model, number = _live_version(state, payload.name, payload.version)
    current = model.versions[number].tags
    if payload.key not in current:
        return Applied(state, {"deleted": False})  # MLflow: a missing tag is no error
    tags = {key: value for key, value in current.items() if key != payload.key}
    changed = model.model_copy(update={"versions": _with_version(model, number, tags=tags)})
    return Applied(_with_model(state, changed), {"deleted": True})


@_decide.register
def _alias_set(payload: ModelAliasSet, state: RegistryState, event: Envelope) -> Applied:
    model, number = _live_version(state, payload.name, payload.version)
    previous = model.aliases.get(payload.alias)
    changed = model.model_copy(update={"aliases": {**model.aliases, payload.alias: number}})
    return Applied(_with_model(state, changed), {"version": number, "previous_version": previous})


@_decide.register
def _alias_deleted(payload: ModelAliasDeleted, state: RegistryState, event: Envelope) -> Applied:
    model = _model(state, payload.name)
    if payload.alias not in model.aliases:
        return Applied(state, {"deleted": False})  # MLflow: a missing alias is no error
    aliases = {a: v for a, v in model.aliases.items() if a != payload.alias}
    changed = model.model_copy(update={"aliases": aliases})
    return Applied(_with_model(state, changed), {"deleted": True})


@_decide.register
def _promotion_decided(payload: PromotionDecided, state: RegistryState, event: Envelope) -> Applied:
    # Recorded for history only: a decision about a version that exists, changing nothing.
    _live_version(state, payload.name, payload.version)
    return Applied(state, {"passed": payload.passed})
