"""The record of a sweep: one `artifacts.collected` event per run or model, split only when its
paths would not fit in one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import SYSTEM_ACTOR, ArtifactsCollected
from services.artifacts import gc
from services.artifacts.gc import Sweep, collected_events
from services.artifacts.retention import Collection, Owner, RetentionPolicy

POLICY = RetentionPolicy(now=datetime(2025, 6, 1, tzinfo=UTC), deleted_older_than=timedelta(30))
OWNER = Owner(
    "run", "1", "r" * 32, f"mlflow-artifacts:/1/{'r' * 32}/artifacts", f"1/{'r' * 32}/artifacts"
)


def sweep(count: int) -> Sweep:
    files = {f"{OWNER.root}/part-{i:06d}.bin": i for i in range(count)}
    done = Sweep(Collection(OWNER, "deleted 45 days ago"), files)
    done.deleted = dict(files)
    return done


def test_one_event_per_run_naming_its_files_the_bytes_and_the_policy() -> None:
    [event] = collected_events(POLICY, sweep(3))
    payload = event.payload
    assert isinstance(payload, ArtifactsCollected)
    assert event.type == "artifacts.collected" and event.aggregate == "artifacts"
    assert event.actor == SYSTEM_ACTOR and event.source == "ledgerflow artifacts gc"
    assert payload.paths == [f"{OWNER.root}/part-{i:06d}.bin" for i in range(3)]
    assert payload.bytes_freed == 0 + 1 + 2
    assert payload.policy.startswith(f"run {'r' * 32}: deleted 45 days ago; policy: runs deleted")


def test_a_root_with_more_paths_than_one_event_carries_is_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gc, "EVENT_PATHS_BYTES", 1000)
    big = sweep(100)
    events = collected_events(POLICY, big)
    assert len(events) > 1
    payloads = [e.payload for e in events if isinstance(e.payload, ArtifactsCollected)]
    assert len(payloads) == len(events)
    assert [path for p in payloads for path in p.paths] == sorted(big.deleted)
    assert sum(p.bytes_freed for p in payloads) == sum(big.deleted.values())
    assert all(sum(len(path) for path in p.paths) <= 1000 for p in payloads)
