"""The retention plan: exactly the runs and models the policy names, except what a live model
version references (by run_id, model_id, runs:/ or models:/ source, location, or a copy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.artifacts.retention import (
    ModelFacts,
    RetentionPlan,
    RetentionPolicy,
    RunFacts,
    VersionFacts,
    plan,
    references,
    store_locator,
)
from services.artifacts.settings import ArtifactSettings

NOW = datetime(2025, 6, 1, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
DAY_MS = 86_400_000
POLICY = RetentionPolicy(
    now=NOW, deleted_older_than=timedelta(days=30), runs_older_than=timedelta(days=90)
)
LOCATE = store_locator(ArtifactSettings())


def run(
    run_id: str, *, deleted: float | None = None, started: float = 1, experiment: str = "1"
) -> RunFacts:
    return RunFacts(
        run_id=run_id,
        experiment_id=experiment,
        lifecycle_stage="active" if deleted is None else "deleted",
        start_time=NOW_MS - int(started * DAY_MS),
        deleted_time=None if deleted is None else NOW_MS - int(deleted * DAY_MS),
        artifact_uri=f"mlflow-artifacts:/{experiment}/{run_id}/artifacts",
    )


def model(model_id: str, source_run: str | None, *linked: str, experiment: str = "1") -> ModelFacts:
    return ModelFacts(
        model_id=model_id,
        experiment_id=experiment,
        artifact_location=f"mlflow-artifacts:/{experiment}/models/{model_id}/artifacts",
        source_run_id=source_run,
        linked_run_ids=frozenset(linked),
    )


def version(
    name: str, number: int, source: str, run_id: str | None = None, model_id: str | None = None
) -> VersionFacts:
    return VersionFacts(name, number, source, run_id, model_id)


def collected(result: RetentionPlan) -> dict[str, str]:
    return {f"{c.owner.kind}:{c.owner.id}": c.reason for c in result.collect}


def kept(result: RetentionPlan) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {f"{k.owner.kind}:{k.owner.id}": (k.because, k.versions) for k in result.keep}


RUNS = [
    run("deleted_old", deleted=45),
    run("deleted_recent", deleted=3),
    run("active_old", started=120),
    run("active_young", started=2),
    run("by_run_id", deleted=60),
    run("by_runs_source", deleted=60),
    run("by_location", started=200),
    run("by_deleted_version", deleted=60),
    run("other_experiment", deleted=60, experiment="2"),
]
MODELS = [
    model("m-orphan", "deleted_old"),
    model("m-registered", "deleted_old"),
    model("m-shared", "deleted_old", "active_young"),
    model("m-of-recent", "deleted_recent"),
    model("m-copied", "active_old"),
    model("m-two-runs", "deleted_old", "active_old"),
    model("m-no-run", None),
]
VERSIONS = [
    version("a", 1, "runs:/by_run_id/model", run_id="by_run_id"),
    version("b", 1, "runs:/by_runs_source/model"),
    version("c", 3, "mlflow-artifacts:/1/by_location/artifacts/model"),
    version("d", 1, "models:/m-registered", run_id=None, model_id="m-registered"),
    version("e", 2, "models:/m-copied", model_id="m-copied"),
    version("f", 1, "models:/e/2"),  # a copy of e v2: references what e v2 references
]


def test_the_plan_collects_exactly_what_the_policy_names_and_no_version_references() -> None:
    result = plan(POLICY, RUNS, MODELS, VERSIONS, LOCATE)
    assert collected(result) == {
        "run:deleted_old": "deleted 45 days ago",
        "run:active_old": "started 120 days ago",
        "run:by_deleted_version": "deleted 60 days ago",  # its version is deleted: not passed
        "run:other_experiment": "deleted 60 days ago",
        "model:m-orphan": "belongs only to run deleted_old (deleted 45 days ago)",
        "model:m-two-runs": "belongs only to runs active_old, deleted_old (all named)",
    }
    assert kept(result) == {
        "run:by_run_id": ("referenced", ("a v1",)),
        "run:by_runs_source": ("referenced", ("b v1",)),
        "run:by_location": ("referenced", ("c v3",)),
        "model:m-registered": ("referenced", ("d v1",)),
        "model:m-copied": ("referenced", ("e v2", "f v1")),
        "model:m-shared": ("shared", ()),
    }
    shared = next(k for k in result.keep if k.owner.id == "m-shared")
    assert shared.detail == "also belongs to run(s) active_young"
    # runs first, then models; by experiment, then id
    assert [c.owner.id for c in result.collect] == [
        "active_old",
        "by_deleted_version",
        "deleted_old",
        "other_experiment",
        "m-orphan",
        "m-two-runs",
    ]
    roots = {c.owner.id: c.owner.root for c in result.collect}
    assert roots["deleted_old"] == "1/deleted_old/artifacts"
    assert roots["m-orphan"] == "1/models/m-orphan/artifacts"


def test_nothing_outside_the_named_experiments() -> None:
    only_two = RetentionPolicy(
        now=NOW, deleted_older_than=timedelta(days=30), experiments=frozenset({"2"})
    )
    result = plan(only_two, RUNS, MODELS, VERSIONS, LOCATE)
    assert collected(result) == {"run:other_experiment": "deleted 60 days ago"}
    assert kept(result) == {}


def test_a_location_above_a_root_protects_everything_below_it() -> None:
    whole_experiment = [version("x", 1, "mlflow-artifacts:/1")]
    result = plan(POLICY, [run("deleted_old", deleted=45)], MODELS[:1], whole_experiment, LOCATE)
    assert collected(result) == {}
    assert kept(result) == {
        "run:deleted_old": ("referenced", ("x v1",)),
        "model:m-orphan": ("referenced", ("x v1",)),
    }
    # a sibling's root only shares a prefix of characters, not of segments: not referenced
    sibling = [version("y", 1, "mlflow-artifacts:/1/deleted_old2/artifacts")]
    assert collected(plan(POLICY, [run("deleted_old", deleted=45)], [], sibling, LOCATE)) == {
        "run:deleted_old": "deleted 45 days ago"
    }


def test_roots_outside_the_store_are_kept_and_said_so() -> None:
    elsewhere = RunFacts("ext", "1", "deleted", 0, 0, "s3://some-bucket/1/ext/artifacts")
    unsafe = RunFacts("bad", "1", "deleted", 0, 0, "mlflow-artifacts:/1/../../etc")
    result = plan(POLICY, [elsewhere, unsafe], [], [], LOCATE)
    assert collected(result) == {}
    assert kept(result) == {"run:ext": ("outside", ()), "run:bad": ("outside", ())}


def test_version_sources_resolve_through_copies_stages_and_aliases() -> None:
    versions = [
        version("src", 1, "runs:/r1/model", run_id="r1"),
        version("src", 2, "models:/m2", model_id="m2"),
        version("copy", 1, "models:/src/1"),
        version("copy", 2, "models:/copy/1"),  # a copy of a copy
        version("staged", 1, "models:/src/Production"),  # every version of src counts
        version("aliased", 1, "models:/src@champion"),
        version("loop", 1, "models:/loop/1"),
        version("s3", 1, "s3://ledgerflow/1/r9/artifacts/model"),  # not the store's (local)
    ]
    refs = references(versions, LOCATE)
    assert refs.runs["r1"] == {"src v1", "copy v1", "copy v2", "staged v1", "aliased v1"}
    assert refs.models["m2"] == {"src v2", "staged v1", "aliased v1"}
    assert refs.keys == []
