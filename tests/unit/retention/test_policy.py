"""The retention policy: which runs it names and why, relative to an injected now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.artifacts.retention import RetentionPolicy, RunFacts, policy_now, store_locator
from services.artifacts.settings import ArtifactSettings

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
DAY_MS = 86_400_000


def run(
    stage: str = "active",
    *,
    started_days_ago: float = 1,
    deleted_days_ago: float | None = None,
    experiment: str = "1",
) -> RunFacts:
    return RunFacts(
        run_id="r" * 32,
        experiment_id=experiment,
        lifecycle_stage=stage,
        start_time=NOW_MS - int(started_days_ago * DAY_MS),
        deleted_time=None if deleted_days_ago is None else NOW_MS - int(deleted_days_ago * DAY_MS),
        artifact_uri="mlflow-artifacts:/1/rrr/artifacts",
    )


def test_a_policy_needs_a_rule_an_aware_now_and_no_negative_age() -> None:
    with pytest.raises(ValueError, match="needs"):
        RetentionPolicy(now=NOW)
    with pytest.raises(ValueError, match="time zone"):
        RetentionPolicy(now=NOW.replace(tzinfo=None), deleted_older_than=timedelta(days=1))
    with pytest.raises(ValueError, match="negative"):
        RetentionPolicy(now=NOW, runs_older_than=timedelta(days=-1))


def test_deleted_runs_are_named_strictly_after_the_age() -> None:
    policy = RetentionPolicy(now=NOW, deleted_older_than=timedelta(days=30))
    assert policy.deleted_before == NOW_MS - 30 * DAY_MS
    assert policy.started_before is None
    assert policy.run_reason(run("deleted", deleted_days_ago=45)) == "deleted 45 days ago"
    assert policy.run_reason(run("deleted", deleted_days_ago=30.5)) == "deleted 30 days ago"
    assert policy.run_reason(run("deleted", deleted_days_ago=30)) is None  # exactly 30: kept
    assert policy.run_reason(run("deleted", deleted_days_ago=29)) is None
    # deleted without a time (cannot tell how long ago), or active again: never by this rule
    assert policy.run_reason(run("deleted", deleted_days_ago=None)) is None
    assert policy.run_reason(run("active", started_days_ago=400)) is None


def test_old_runs_are_named_by_start_time_whatever_their_state() -> None:
    policy = RetentionPolicy(now=NOW, runs_older_than=timedelta(days=90))
    assert policy.run_reason(run("active", started_days_ago=120)) == "started 120 days ago"
    assert policy.run_reason(run("deleted", started_days_ago=91, deleted_days_ago=1)) == (
        "started 91 days ago"
    )
    assert policy.run_reason(run("active", started_days_ago=89)) is None
    no_start = RunFacts("r", "1", "active", None, None, "mlflow-artifacts:/1/r/artifacts")
    assert policy.run_reason(no_start) is None


def test_the_deleted_rule_is_the_reason_when_both_apply() -> None:
    policy = RetentionPolicy(
        now=NOW, deleted_older_than=timedelta(days=7), runs_older_than=timedelta(days=90)
    )
    both = run("deleted", started_days_ago=200, deleted_days_ago=8.25)
    assert policy.run_reason(both) == "deleted 8.2 days ago"


def test_experiments_restrict_the_policy() -> None:
    policy = RetentionPolicy(
        now=NOW, runs_older_than=timedelta(days=1), experiments=frozenset({"2", "10"})
    )
    assert policy.run_reason(run(started_days_ago=5, experiment="1")) is None
    assert policy.run_reason(run(started_days_ago=5, experiment="10")) is not None
    assert policy.covers("2") and not policy.covers("1")
    assert "experiment(s) 2, 10" in policy.describe()


def test_describe_names_every_rule_and_the_time() -> None:
    policy = RetentionPolicy(
        now=NOW, deleted_older_than=timedelta(days=1), runs_older_than=timedelta(days=1.5)
    )
    text = policy.describe()
    assert "runs deleted more than 1 day ago or runs started more than 1.5 days ago" in text
    assert "as of 2025-06-01T12:00:00.000000Z" in text
    assert "model version" in text


def test_now_is_injectable() -> None:
    assert policy_now("2025-06-01T12:00:00") == NOW
    assert policy_now("2025-06-01T14:00:00+02:00") == NOW
    before = datetime.now(UTC)
    assert before <= policy_now(None) <= datetime.now(UTC)


def test_the_locator_maps_uris_into_the_store() -> None:
    local = store_locator(ArtifactSettings(backend="local"))
    assert local("mlflow-artifacts:/1/abc/artifacts") == "1/abc/artifacts"
    assert local("mlflow-artifacts://host:5000/1/abc/artifacts/") == "1/abc/artifacts"
    assert local("mlflow-artifacts:/") == ""
    assert (
        local("https://h/api/2.0/mlflow-artifacts/artifacts/1/models/m-1/artifacts")
        == "1/models/m-1/artifacts"
    )
    assert local("mlflow-artifacts:/1/a%20b/artifacts") == "1/a b/artifacts"
    assert local("s3://ledgerflow/1/abc/artifacts") is None
    assert local("file:///tmp/x") is None

    s3 = store_locator(ArtifactSettings(backend="s3", s3_bucket="b", s3_prefix="prod/art"))
    assert s3("s3://b/prod/art/1/abc/artifacts") == "1/abc/artifacts"
    assert s3("s3://b/prod/art") == ""
    assert s3("s3://b/prod/other/1/abc") is None
    assert s3("s3://other/prod/art/1/abc") is None
    assert s3("mlflow-artifacts:/1/abc/artifacts") == "1/abc/artifacts"
    assert store_locator(ArtifactSettings(backend="s3", s3_bucket="b"))("s3://b/1/x") == "1/x"
