"""The registry's decisions over hand-written event sequences: every event type, every
rejection, with MLflow's codes and messages (taken from MLflow's own code where it has a
function for them), and MLflow's timestamp bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from schemas import (
    Envelope,
    ExperimentTagSet,
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagDeleted,
    ModelVersionTagSet,
    ModelVersionUpdated,
    Payload,
    PromotionCondition,
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
    apply,
    canonical_stage,
    epoch_millis,
    fold,
    latest_versions,
    registered_model_json,
    version_json,
)
from services.registry.errors import RegistryError
from tests.unit.registry.builders import ALICE, BOB, NOBODY, at, event, ms

mlflow_stages = pytest.importorskip("mlflow.entities.model_registry.model_version_stages")
registry_utils = pytest.importorskip("mlflow.prompt.registry_utils")
MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException


def run(*steps: tuple[Payload, float] | Payload) -> RegistryState:
    """Fold payloads (at the given seconds, or one second apart); each must be accepted."""
    state = EMPTY
    for i, step in enumerate(steps):
        payload, seconds = step if isinstance(step, tuple) else (step, float(i))
        state = apply(state, event(payload, seconds)).state
    return state


def rejected(state: RegistryState, payload: Payload, seconds: float = 100) -> RegistryRejection:
    with pytest.raises(RegistryRejection) as caught:
        apply(state, event(payload, seconds))
    return caught.value


def mlflow_message(call: object) -> tuple[str, str]:
    try:
        call()  # type: ignore[operator]
    except MlflowException as err:
        return err.error_code, err.message
    raise AssertionError("MLflow accepted it")


BASE = [
    RegisteredModelCreated(name="m", description="first", tags=[Tag(key="team", value="a")]),
    ModelVersionCreated(name="m", source="s3://b/1", run_id="r1", tags=[Tag(key="k", value="1")]),
    ModelVersionCreated(name="m", source="s3://b/2", run_link="http://run/2", description=""),
    ModelVersionCreated(name="m", source="s3://b/3", model_id="m-abc"),
]


def base() -> RegistryState:
    return run(*BASE)


# ---------------------------------------------------------------------------------------------
# Registered models


def test_create_sets_fields_from_the_event() -> None:
    state = run((BASE[0], 5.0))
    model = state.models["m"]
    assert (model.creation_timestamp, model.last_updated_timestamp) == (ms(5), ms(5))
    assert (model.user_id, model.description, model.tags) == ("alice", "first", {"team": "a"})
    assert (model.versions, model.aliases, model.last_version) == ({}, {}, 0)


def test_repeated_tag_keys_keep_the_last_value() -> None:
    state = run(
        RegisteredModelCreated(name="m", tags=[Tag(key="a", value="1"), Tag(key="a", value="2")])
    )
    assert state.models["m"].tags == {"a": "2"}


def test_anonymous_actors_leave_user_id_unset() -> None:
    state = apply(EMPTY, event(RegisteredModelCreated(name="m"), actor=NOBODY)).state
    assert state.models["m"].user_id is None
    state = apply(state, event(ModelVersionCreated(name="m", source="x"), actor=BOB)).state
    assert state.models["m"].versions[1].user_id == "bob"


def test_duplicate_names_are_refused_as_mlflow_words_it() -> None:
    state = base()
    refusal = rejected(state, RegisteredModelCreated(name="m"))
    assert (refusal.error_code, refusal.message) == mlflow_message(
        lambda: registry_utils.handle_resource_already_exist_error("m", False, False)
    )
    assert refusal.message == "Registered Model (name=m) already exists."
    as_prompt = RegisteredModelCreated(
        name="m", tags=[Tag(key="mlflow.prompt.is_prompt", value="true")]
    )
    assert (
        rejected(state, as_prompt).message
        == mlflow_message(
            lambda: registry_utils.handle_resource_already_exist_error("m", False, True)
        )[1]
    )
    prompt = run(as_prompt)
    assert (
        rejected(prompt, RegisteredModelCreated(name="m")).message
        == mlflow_message(
            lambda: registry_utils.handle_resource_already_exist_error("m", True, False)
        )[1]
    )
    assert rejected(prompt, as_prompt).message == "Prompt (name=m) already exists."


def test_unknown_models_are_refused_by_every_model_operation() -> None:
    message = ("RESOURCE_DOES_NOT_EXIST", "Registered Model with name=x not found")
    for payload in [
        RegisteredModelRenamed(name="x", new_name="y"),
        RegisteredModelUpdated(name="x", description="d"),
        RegisteredModelDeleted(name="x"),
        RegisteredModelTagSet(name="x", key="k", value="v"),
        RegisteredModelTagDeleted(name="x", key="k"),
        ModelVersionCreated(name="x", source="s"),
        ModelAliasDeleted(name="x", alias="a"),
    ]:
        refusal = rejected(base(), payload)
        assert (refusal.error_code, refusal.message) == message, payload


def test_update_changes_the_description_and_the_model_timestamp_only() -> None:
    state = run(*BASE, (RegisteredModelUpdated(name="m", description=None), 9.0))
    model = state.models["m"]
    assert (model.description, model.last_updated_timestamp) == (None, ms(9))
    assert all(v.last_updated_timestamp < ms(9) for v in model.versions.values())


def test_rename_moves_versions_aliases_and_tags_and_touches_every_version() -> None:
    state = run(
        *BASE,
        ModelAliasSet(name="m", alias="champion", version=2),
        ModelVersionDeleted(name="m", version=3),
        (RegisteredModelRenamed(name="m", new_name="n"), 20.0),
    )
    assert "m" not in state.models
    model = state.models["n"]
    assert (model.name, model.last_updated_timestamp, model.last_version) == ("n", ms(20), 3)
    assert model.aliases == {"champion": 2}
    assert model.tags == {"team": "a"}
    # MLflow bumps every version, deleted ones included
    assert {v.last_updated_timestamp for v in model.versions.values()} == {ms(20)}
    assert version_json(model, 2)["name"] == "n"


def test_rename_to_its_own_name_is_accepted_and_touches_it() -> None:
    state = run(*BASE, (RegisteredModelRenamed(name="m", new_name="m"), 30.0))
    assert state.models["m"].last_updated_timestamp == ms(30)


def test_rename_onto_another_model_is_refused() -> None:
    state = run(*BASE, RegisteredModelCreated(name="other"))
    refusal = rejected(state, RegisteredModelRenamed(name="m", new_name="other"))
    assert (refusal.error_code, refusal.message) == (
        "RESOURCE_ALREADY_EXISTS",
        "Registered Model (name=other) already exists.",
    )


def test_delete_removes_the_model_and_its_versions_and_frees_the_name() -> None:
    state = run(*BASE, ModelAliasSet(name="m", alias="a", version=1))
    applied = apply(state, event(RegisteredModelDeleted(name="m"), 10))
    assert applied.state.models == {}
    assert applied.outcome == {"deleted_versions": [1, 2, 3]}
    # a new model of that name starts over, as MLflow's does (its rows are gone)
    again = run(*BASE, RegisteredModelDeleted(name="m"), RegisteredModelCreated(name="m"))
    again = apply(again, event(ModelVersionCreated(name="m", source="s"), 50)).state
    assert list(again.models["m"].versions) == [1]


def test_model_tags_set_overwrite_and_delete_without_touching_timestamps() -> None:
    state = run(
        *BASE,
        (RegisteredModelTagSet(name="m", key="team", value="b"), 40.0),
        (RegisteredModelTagSet(name="m", key="new", value="x"), 41.0),
    )
    model = state.models["m"]
    assert model.tags == {"team": "b", "new": "x"}
    assert model.last_updated_timestamp == ms(3)
    applied = apply(state, event(RegisteredModelTagDeleted(name="m", key="team"), 42))
    assert applied.state.models["m"].tags == {"new": "x"}
    # MLflow: deleting a tag the model does not have is no error
    missing = apply(state, event(RegisteredModelTagDeleted(name="m", key="nope"), 43))
    assert missing.state == state and missing.outcome == {"deleted": False}


# ---------------------------------------------------------------------------------------------
# Versions


def test_versions_are_numbered_from_one_and_bump_the_model() -> None:
    state = base()
    model = state.models["m"]
    assert list(model.versions) == [1, 2, 3] and model.last_version == 3
    assert model.last_updated_timestamp == ms(3)
    v1, v2, v3 = (model.versions[n] for n in (1, 2, 3))
    assert (v1.source, v1.run_id, v1.tags, v1.current_stage, v1.status) == (
        "s3://b/1",
        "r1",
        {"k": "1"},
        "None",
        "READY",
    )
    assert (v2.run_link, v2.description, v3.model_id) == ("http://run/2", "", "m-abc")
    assert (v1.creation_timestamp, v1.last_updated_timestamp) == (ms(1), ms(1))
    applied = apply(state, event(ModelVersionCreated(name="m", source="s"), 9))
    assert applied.outcome == {"version": 4}


def test_version_numbers_are_never_reused_after_deletes() -> None:
    state = base()
    for number in (3, 2):
        state = apply(state, event(ModelVersionDeleted(name="m", version=number), 10)).state
    applied = apply(state, event(ModelVersionCreated(name="m", source="s"), 11))
    assert applied.outcome == {"version": 4}
    model = applied.state.models["m"]
    assert sorted(n for n, v in model.versions.items() if not v.deleted) == [1, 4]


def test_unknown_or_deleted_versions_are_refused_by_every_version_operation() -> None:
    state = run(*BASE, ModelVersionDeleted(name="m", version=2))
    for name, number in [("m", 2), ("m", 9), ("x", 1)]:
        message = (
            "RESOURCE_DOES_NOT_EXIST",
            f"Model Version (name={name}, version={number}) not found",
        )
        for payload in [
            ModelVersionUpdated(name=name, version=number, description="d"),
            ModelVersionDeleted(name=name, version=number),
            ModelVersionStageTransitioned(name=name, version=number, stage="Staging"),
            ModelVersionTagSet(name=name, version=number, key="k", value="v"),
            ModelVersionTagDeleted(name=name, version=number, key="k"),
            ModelAliasSet(name=name, alias="a", version=number),
            PromotionDecided(name=name, version=number, passed=True, conditions=[]),
        ]:
            refusal = rejected(state, payload)
            assert (refusal.error_code, refusal.message) == message, payload


def test_version_update_touches_the_version_not_the_model() -> None:
    state = run(*BASE, (ModelVersionUpdated(name="m", version=1, description="better"), 50.0))
    model = state.models["m"]
    assert (model.versions[1].description, model.versions[1].last_updated_timestamp) == (
        "better",
        ms(50),
    )
    assert model.last_updated_timestamp == ms(3)


def test_version_delete_keeps_the_number_drops_its_aliases_and_touches_both() -> None:
    state = run(
        *BASE,
        ModelAliasSet(name="m", alias="champion", version=2),
        ModelAliasSet(name="m", alias="backup", version=2),
        ModelAliasSet(name="m", alias="other", version=1),
    )
    applied = apply(state, event(ModelVersionDeleted(name="m", version=2), 60))
    assert applied.outcome == {"version": 2, "removed_aliases": ["backup", "champion"]}
    model = applied.state.models["m"]
    assert model.aliases == {"other": 1}
    assert model.versions[2].current_stage == "Deleted_Internal"
    assert model.versions[2].deleted and model.live_version(2) is None
    assert (model.last_updated_timestamp, model.versions[2].last_updated_timestamp) == (
        ms(60),
        ms(60),
    )
    assert model.versions[2].tags == {}  # kept, as MLflow keeps a deleted version's tags
    assert [v.version for v in latest_versions(model)] == [3]


def test_version_tags_set_overwrite_and_delete_without_touching_timestamps() -> None:
    state = run(
        *BASE,
        ModelVersionTagSet(name="m", version=1, key="k", value="2"),
        ModelVersionTagSet(name="m", version=1, key="x", value="y"),
    )
    assert state.models["m"].versions[1].tags == {"k": "2", "x": "y"}
    assert state.models["m"].versions[1].last_updated_timestamp == ms(1)
    state = apply(state, event(ModelVersionTagDeleted(name="m", version=1, key="k"), 70)).state
    assert state.models["m"].versions[1].tags == {"x": "y"}
    missing = apply(state, event(ModelVersionTagDeleted(name="m", version=1, key="k"), 71))
    assert missing.state == state and missing.outcome == {"deleted": False}


# ---------------------------------------------------------------------------------------------
# Stages


@pytest.mark.parametrize("stage", ["None", "none", "staging", "STAGING", "Production", "archived"])
def test_stage_names_are_case_insensitive_and_canonicalised(stage: str) -> None:
    expected = mlflow_stages.get_canonical_stage(stage)
    assert canonical_stage(stage) == expected
    state = run(*BASE, ModelVersionStageTransitioned(name="m", version=1, stage=stage))
    assert state.models["m"].versions[1].current_stage == expected


@pytest.mark.parametrize("stage", ["Prod", "", "Deleted_Internal", "production "])
def test_invalid_stages_are_refused_with_mlflows_message(stage: str) -> None:
    refusal = rejected(base(), ModelVersionStageTransitioned(name="m", version=1, stage=stage))
    expected = mlflow_message(lambda: mlflow_stages.get_canonical_stage(stage))
    assert (refusal.error_code, refusal.message) == expected
    with pytest.raises(RegistryError) as caught:
        canonical_stage(stage)
    assert caught.value.message == expected[1]
    # checked before the version exists, as MLflow does
    missing = ModelVersionStageTransitioned(name="nope", version=7, stage=stage)
    assert rejected(base(), missing).error_code == "INVALID_PARAMETER_VALUE"


def test_the_invalid_stage_message_is_mlflows() -> None:
    refusal = rejected(base(), ModelVersionStageTransitioned(name="m", version=1, stage="Prod"))
    assert refusal.message == (
        "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, "
        "Archived."
    )


@pytest.mark.parametrize("stage", ["Archived", "archived", "None"])
def test_archiving_existing_versions_needs_an_active_target(stage: str) -> None:
    payload = ModelVersionStageTransitioned(
        name="nope", version=1, stage=stage, archive_existing_versions=True
    )
    refusal = rejected(base(), payload)
    assert refusal.error_code == "INTERNAL_ERROR"  # MLflow raises it without a code: a 500
    assert refusal.message == (
        "Model version transition cannot archive existing model versions because "
        f"'{stage}' is not an Active stage. Valid stages are ['Staging', 'Production']"
    )


def test_archive_existing_versions_archives_the_target_stage_only() -> None:
    state = run(
        *BASE,
        ModelVersionCreated(name="m", source="s3://b/4"),
        ModelVersionStageTransitioned(name="m", version=1, stage="Production"),
        ModelVersionStageTransitioned(name="m", version=2, stage="Production"),
        ModelVersionStageTransitioned(name="m", version=3, stage="Staging"),
    )
    payload = ModelVersionStageTransitioned(
        name="m", version=4, stage="production", archive_existing_versions=True
    )
    applied = apply(state, event(payload, 80))
    assert applied.outcome == {"version": 4, "stage": "Production", "archived_versions": [1, 2]}
    model = applied.state.models["m"]
    stages = {n: v.current_stage for n, v in model.versions.items()}
    assert stages == {1: "Archived", 2: "Archived", 3: "Staging", 4: "Production"}
    touched = {n for n, v in model.versions.items() if v.last_updated_timestamp == ms(80)}
    assert touched == {1, 2, 4}
    assert model.last_updated_timestamp == ms(80)


def test_without_archiving_several_versions_share_a_stage() -> None:
    state = run(
        *BASE,
        ModelVersionStageTransitioned(name="m", version=1, stage="Production"),
        ModelVersionStageTransitioned(name="m", version=3, stage="Production"),
        ModelVersionStageTransitioned(name="m", version=2, stage="Staging"),
    )
    model = state.models["m"]
    # the latest per stage, stages in the order their lowest version shows them (MLflow's)
    assert [(v.version, v.current_stage) for v in latest_versions(model)] == [
        (3, "Production"),
        (2, "Staging"),
    ]


# ---------------------------------------------------------------------------------------------
# Aliases


def test_aliases_point_move_and_delete_without_touching_timestamps() -> None:
    state = run(*BASE, ModelAliasSet(name="m", alias="champion", version=1))
    applied = apply(state, event(ModelAliasSet(name="m", alias="champion", version=3), 90))
    assert applied.outcome == {"version": 3, "previous_version": 1}
    model = applied.state.models["m"]
    assert model.aliases == {"champion": 3}
    assert model.last_updated_timestamp == ms(3)
    assert version_json(model, 3)["aliases"] == ["champion"]
    assert "aliases" not in version_json(model, 1)
    gone = apply(applied.state, event(ModelAliasDeleted(name="m", alias="champion"), 91))
    assert gone.state.models["m"].aliases == {} and gone.outcome == {"deleted": True}
    # MLflow: deleting an alias the model does not have is no error
    missing = apply(gone.state, event(ModelAliasDeleted(name="m", alias="champion"), 92))
    assert missing.state == gone.state and missing.outcome == {"deleted": False}


# ---------------------------------------------------------------------------------------------
# Promotion decisions and other events


def test_promotion_decisions_are_recorded_without_changing_state() -> None:
    state = base()
    payload = PromotionDecided(
        name="m",
        version=2,
        target_stage="Production",
        passed=False,
        conditions=[PromotionCondition(expression="acc > 0.9", candidate=0.8, passed=False)],
    )
    applied = apply(state, event(payload, 95))
    assert applied == Applied(state, {"passed": False})


def test_events_of_other_domains_change_nothing() -> None:
    state = base()
    assert (
        apply(state, event(ExperimentTagSet(experiment_id="1", key="k", value="v"))).state is state
    )


def test_every_registry_event_type_is_decided() -> None:
    decided = {
        "registered_model.created",
        "registered_model.renamed",
        "registered_model.updated",
        "registered_model.deleted",
        "registered_model.tag_set",
        "registered_model.tag_deleted",
        "model_version.created",
        "model_version.updated",
        "model_version.deleted",
        "model_version.stage_transitioned",
        "model_version.tag_set",
        "model_version.tag_deleted",
        "model_alias.set",
        "model_alias.deleted",
        "promotion.decided",
    }
    assert decided == REGISTRY_EVENT_TYPES


# ---------------------------------------------------------------------------------------------
# Purity and replay


def _mixed() -> list[Envelope]:
    payloads: Sequence[Payload] = [
        *BASE,
        ModelVersionStageTransitioned(name="m", version=1, stage="Staging"),
        RegisteredModelCreated(name="m"),  # refused
        ModelAliasSet(name="m", alias="a", version=9),  # refused
        ModelVersionStageTransitioned(
            name="m", version=2, stage="staging", archive_existing_versions=True
        ),
        RegisteredModelRenamed(name="m", new_name="n"),
        ModelVersionDeleted(name="n", version=1),
        ModelVersionCreated(name="n", source="s"),
    ]
    return [event(p, i) for i, p in enumerate(payloads)]


def test_the_fold_is_deterministic_and_skips_rejected_events() -> None:
    events = _mixed()
    assert fold(events) == fold(events)
    model = fold(events).models["n"]
    assert sorted(model.versions) == [1, 2, 3, 4]
    assert model.versions[1].current_stage == "Deleted_Internal"
    assert model.versions[2].current_stage == "Staging"


def test_input_state_is_never_mutated() -> None:
    state = EMPTY
    for envelope in _mixed():
        snapshot = state.model_dump()
        try:
            after = apply(state, envelope).state
        except RegistryRejection:
            after = state
        assert state.model_dump() == snapshot
        state = after


def test_timestamps_are_exact_milliseconds_of_the_event_time() -> None:
    moment = at(0.0015)  # 1.5 ms: floor, in integer arithmetic
    assert epoch_millis(moment) == ms(0) + 1
    state = apply(EMPTY, event(RegisteredModelCreated(name="m"), 0.0015)).state
    assert state.models["m"].creation_timestamp == ms(0) + 1


def test_json_views_follow_mlflows_shape() -> None:
    state = run(*BASE, ModelAliasSet(name="m", alias="champion", version=2))
    model = state.models["m"]
    body = registered_model_json(model)
    assert body["aliases"] == [{"alias": "champion", "version": "2"}]
    assert body["tags"] == [{"key": "team", "value": "a"}]
    assert [v["version"] for v in body["latest_versions"]] == ["3"]
    v2 = version_json(model, 2)
    assert v2 == {
        "name": "m",
        "version": "2",
        "creation_timestamp": ms(2),
        "last_updated_timestamp": ms(2),
        "description": "",  # set, if empty: present (a model's empty description is not)
        "user_id": ALICE.name,
        "current_stage": "None",
        "source": "s3://b/2",
        "run_link": "http://run/2",
        "status": "READY",
        "aliases": ["champion"],
    }
    assert version_json(model, 3)["model_id"] == "m-abc"
    bare = run(RegisteredModelCreated(name="b", description=""))
    assert registered_model_json(bare.models["b"]) == {
        "name": "b",
        "creation_timestamp": ms(0),
        "last_updated_timestamp": ms(0),
        "user_id": "alice",
    }
