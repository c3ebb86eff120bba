"""History and as-of: the registry's past folded from recorded events."""

from __future__ import annotations

import pytest

from schemas import (
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagSet,
    PromotionDecided,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
    RegisteredModelTagSet,
)
from services.registry import (
    EMPTY,
    ModelVersion,
    RecordedEvent,
    RegisteredModel,
    ReplayDivergence,
    as_of,
    decisions,
    fold,
    history,
    recorded,
)
from tests.unit.registry.builders import ALICE, BOB, at, event


def story() -> list[RecordedEvent]:
    """A model's life across two renames, with a rival that takes its first name later."""
    payloads = [
        (RegisteredModelCreated(name="fraud"), ALICE),  # 1
        (ModelVersionCreated(name="fraud", source="s3://1"), ALICE),  # 2 -> v1
        (ModelVersionCreated(name="fraud", source="s3://2"), BOB),  # 3 -> v2
        (ModelVersionStageTransitioned(name="fraud", version=1, stage="Production"), BOB),  # 4
        (RegisteredModelRenamed(name="fraud", new_name="fraud-v2"), ALICE),  # 5
        (RegisteredModelCreated(name="fraud"), BOB),  # 6: a new model takes the old name
        (ModelVersionCreated(name="fraud", source="s3://other"), BOB),  # 7
        (
            ModelVersionStageTransitioned(
                name="fraud-v2", version=2, stage="production", archive_existing_versions=True
            ),
            ALICE,
        ),  # 8: archives v1
        (ModelAliasSet(name="fraud-v2", alias="champion", version=9), BOB),  # 9: refused
        (RegisteredModelRenamed(name="fraud", new_name="fraud-v2"), BOB),  # 10: refused, taken
        (PromotionDecided(name="fraud-v2", version=2, passed=True, conditions=[]), ALICE),  # 11
        (ModelVersionDeleted(name="fraud-v2", version=1), ALICE),  # 12
        (RegisteredModelRenamed(name="fraud-v2", new_name="fraud-final"), ALICE),  # 13
        (RegisteredModelTagSet(name="fraud-final", key="owner", value="risk"), BOB),  # 14
    ]
    return recorded([event(p, 10 * i, actor=a) for i, (p, a) in enumerate(payloads)])


def test_history_follows_a_model_through_its_renames() -> None:
    entries = history(story(), "fraud-final")
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14]
    assert [e.verdict for e in entries].count("rejected") == 2
    first, rename = entries[0], entries[4]
    assert first.before is None and isinstance(first.after, RegisteredModel)
    assert first.actor == ALICE and first.occurred_at == at(0)
    assert first.event_type == "registered_model.created"
    assert (rename.before.name, rename.after.name) == ("fraud", "fraud-v2")  # type: ignore[union-attr]
    refused = entries[6]
    assert (refused.seq, refused.error_code) == (9, "RESOURCE_DOES_NOT_EXIST")
    assert refused.reason == "Model Version (name=fraud-v2, version=9) not found"
    assert refused.before == refused.after
    taken = entries[7]  # the rival's rename onto our name is part of our story too
    assert (taken.seq, taken.error_code, taken.actor) == (10, "RESOURCE_ALREADY_EXISTS", BOB)
    assert entries[-1].after.tags == {"owner": "risk"}  # type: ignore[union-attr]
    assert entries[3].payload == {
        "name": "fraud",
        "version": 1,
        "stage": "Production",
        "archive_existing_versions": False,
    }


def test_a_reused_name_has_its_own_history() -> None:
    entries = history(story(), "fraud")
    assert [e.seq for e in entries] == [6, 7, 10]


def test_history_of_a_name_no_model_bears_is_the_last_bearers() -> None:
    events = story() + recorded(
        [event(RegisteredModelDeleted(name="fraud-final"), 500)], first_seq=15
    )
    entries = history(events, "fraud-final")
    assert entries[-1].seq == 15 and entries[-1].after is None
    assert history(events, "never-existed") == []


def test_history_of_a_version() -> None:
    entries = history(story(), "fraud-final", version=1)
    assert [e.seq for e in entries] == [2, 4, 5, 8, 12, 13]
    stages = [(getattr(e.before, "current_stage", None), e.after.current_stage) for e in entries]  # type: ignore[union-attr]
    assert stages == [
        (None, "None"),
        ("None", "Production"),
        ("Production", "Production"),  # the rename touched it
        ("Production", "Archived"),  # archived by version 2's promotion
        ("Archived", "Deleted_Internal"),
        ("Deleted_Internal", "Deleted_Internal"),
    ]
    assert entries[0].outcome == {"version": 1}
    v2 = history(story(), "fraud-final", version=2)
    assert [e.seq for e in v2] == [3, 5, 8, 11, 13]
    assert all(isinstance(e.after, ModelVersion) for e in v2)
    assert v2[3].event_type == "promotion.decided" and v2[3].outcome == {"passed": True}
    assert [e.seq for e in history(story(), "fraud-final", version=9)] == [9]


def test_as_of_at_several_points() -> None:
    events = story()
    assert as_of(events, at_seq=0) == EMPTY
    at_4 = as_of(events, at_seq=4)
    assert at_4.models["fraud"].versions[1].current_stage == "Production"
    at_6 = as_of(events, at_seq=6)
    assert set(at_6.models) == {"fraud", "fraud-v2"}
    assert at_6.models["fraud"].versions == {}
    assert at_6.models["fraud-v2"].versions[1].current_stage == "Production"
    at_8 = as_of(events, at_seq=8)
    stages = {n: v.current_stage for n, v in at_8.models["fraud-v2"].versions.items()}
    assert stages == {1: "Archived", 2: "Production"}
    assert as_of(events, at_seq=14) == fold(r.event for r in events)
    # by time: occurred every 10 s from T0; 75 s is after seq 8 (70 s) and before seq 9
    assert as_of(events, at_time=at(75)) == at_8
    assert as_of(events, at_time=at(70)) == at_8
    assert as_of(events, at_time=at(-1)) == EMPTY


def test_as_of_uses_the_record_time_and_stops_at_the_first_later_record() -> None:
    events = story()
    # recorded in log order, two of them with skewed clocks
    timed = [
        RecordedEvent(r.seq, r.event, recorded_at=at(10 * r.seq + (500 if r.seq == 5 else 0)))
        for r in events
    ]
    assert as_of(timed, at_time=at(45)) == as_of(events, at_seq=4)
    assert as_of(timed, at_time=at(100)) == as_of(events, at_seq=4)  # seq 5 recorded at 550
    with pytest.raises(ValueError):
        as_of(events)
    with pytest.raises(ValueError):
        as_of(events, at_seq=1, at_time=at(0))


def test_recorded_verdicts_are_honoured_and_divergence_is_reported() -> None:
    events = story()
    # the log says seq 4 was rejected (say, the database refused it): replay skips it
    skipped = [
        RecordedEvent(r.seq, r.event, "rejected", "INTERNAL_ERROR", "boom")
        if r.seq == 4
        else RecordedEvent(r.seq, r.event, "accepted" if r.seq not in (9, 10) else "rejected")
        for r in events
    ]
    assert as_of(skipped, at_seq=4).models["fraud"].versions[1].current_stage == "None"
    entry = next(e for e in history(skipped, "fraud-final") if e.seq == 4)
    assert (entry.verdict, entry.error_code, entry.reason) == ("rejected", "INTERNAL_ERROR", "boom")
    # the log says an event was accepted that the fold refuses: the code and the log disagree
    diverging = [RecordedEvent(r.seq, r.event, "accepted") if r.seq == 9 else r for r in events]
    with pytest.raises(ReplayDivergence) as caught:
        as_of(diverging, at_seq=14)
    assert caught.value.seq == 9


def test_decisions_replay_as_the_first_pass() -> None:
    refused = {9: "RESOURCE_DOES_NOT_EXIST", 10: "RESOURCE_ALREADY_EXISTS"}
    assert decisions(story()) == [
        (seq, "rejected" if seq in refused else "accepted", refused.get(seq))
        for seq in range(1, 15)
    ]


def test_history_entries_serialise_to_json() -> None:
    entry = history(story(), "fraud-final", version=1)[1]
    body = entry.model_dump(mode="json")
    assert body["actor"] == {"name": "bob", "kind": "self_reported"}
    assert body["after"]["current_stage"] == "Production"
    assert body["occurred_at"].startswith("2024-03-03T09:00:30")
    assert body["event_id"] == str(entry.event_id)


def test_version_tags_changes_are_part_of_the_versions_history() -> None:
    events = story() + recorded(
        [event(ModelVersionTagSet(name="fraud-final", version=2, key="k", value="v"), 900)],
        first_seq=15,
    )
    assert history(events, "fraud-final", version=2)[-1].seq == 15
