"""The artifact projection (artifact.stored -> artifact_files) and the run verification."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import pytest

from schemas import (
    ArtifactStored,
    Envelope,
    ExperimentCreated,
    Payload,
    RunCreated,
    encode,
    new_event,
)
from services.artifacts.layout import stored_event
from services.artifacts.local import LocalArtifactStore
from services.artifacts.records import (
    NotProxied,
    UnknownRun,
    model_records,
    run_records,
    verify_run_artifacts,
)
from services.artifacts.store import StoredFile
from services.log.base import LogRecord
from services.projector.batch import project_batch
from services.projector.verdict import Verdict
from tests.samples import TEST_ACTOR

RUN = "a" * 32
OTHER_RUN = "b" * 32
_offsets = itertools.count()


def event(payload: Payload) -> Envelope:
    return new_event(payload, actor=TEST_ACTOR, source="test")


async def project(pool: asyncpg.Pool, *payloads: Payload) -> list[Verdict]:
    events = [event(p) for p in payloads]
    records = [
        LogRecord("t.data", 0, next(_offsets), e.aggregate.encode(), encode(e), 0) for e in events
    ]

    async def no_deadletters(letters: Sequence[object]) -> None:
        raise AssertionError(letters)

    async with pool.acquire() as conn:
        result = await project_batch(conn, records, consumer="c", deadletter=no_deadletters)
    return [result.verdicts[e.event_id] for e in events]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(key: str, data: bytes) -> ArtifactStored:
    payload = stored_event(key, StoredFile(len(data), sha(data)))
    assert payload is not None
    return payload


async def test_a_file_of_a_run_that_does_not_exist_is_recorded(pool: asyncpg.Pool) -> None:
    payload = stored(f"4/{RUN}/artifacts/model/MLmodel", b"flavors: {}")
    [verdict] = await project(pool, payload)
    assert verdict.accepted
    row = await pool.fetchrow("SELECT * FROM artifact_files")
    assert row is not None
    assert (row["run_id"], row["model_id"], row["experiment_id"]) == (RUN, None, "4")
    assert (row["path"], row["store_path"]) == ("model/MLmodel", payload.path)
    assert (row["size"], row["sha256"]) == (11, sha(b"flavors: {}"))
    audit = await pool.fetchrow("SELECT occurred_at, verdict, aggregate FROM audit_log")
    assert audit is not None and audit["verdict"] == "accepted" and audit["aggregate"] == RUN
    assert row["stored_at"] == int(audit["occurred_at"].timestamp() * 1000)
    [record] = await run_records(pool, RUN)
    assert (record.path, record.size) == ("model/MLmodel", 11)


async def test_the_last_write_of_a_path_wins(pool: asyncpg.Pool) -> None:
    key = f"1/{RUN}/artifacts/a.txt"
    await project(pool, stored(key, b"one"), stored(key, b"second"))
    await project(pool, stored(f"1/{RUN}/artifacts/b.txt", b"b"))
    records = await run_records(pool, RUN)
    assert [(r.path, r.size, r.sha256) for r in records] == [
        ("a.txt", 6, sha(b"second")),
        ("b.txt", 1, sha(b"b")),
    ]


async def test_logged_model_files(pool: asyncpg.Pool) -> None:
    await project(pool, stored("2/models/m-abc/artifacts/model.pkl", b"pickle"))
    [record] = await model_records(pool, "m-abc")
    assert (record.path, record.store_path) == ("model.pkl", "2/models/m-abc/artifacts/model.pkl")
    assert await run_records(pool, RUN) == []


async def test_an_event_whose_path_is_not_its_owners_is_rejected(pool: asyncpg.Pool) -> None:
    lying = ArtifactStored(
        run_id=RUN, path=f"1/{OTHER_RUN}/artifacts/a.txt", size=1, sha256=sha(b"a")
    )
    outside = ArtifactStored(run_id=RUN, path="1/traces/t/artifacts/a", size=1, sha256=sha(b"a"))
    verdicts = await project(pool, lying, outside)
    assert [v.error_code for v in verdicts] == ["INVALID_PARAMETER_VALUE"] * 2
    assert "is not under the artifact root of run" in (verdicts[0].reason or "")
    assert await pool.fetchval("SELECT count(*) FROM artifact_files") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE verdict = 'rejected'") == 2


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalArtifactStore]:
    store = LocalArtifactStore(tmp_path / "artifacts")
    yield store
    await store.close()


async def put(store: LocalArtifactStore, key: str, data: bytes) -> ArtifactStored:
    async def body() -> AsyncIterator[bytes]:
        yield data

    result = await store.put(key, body())
    payload = stored_event(key, result)
    assert payload is not None
    return payload


async def test_verify_finds_missing_extra_and_changed_files(
    pool: asyncpg.Pool, store: LocalArtifactStore
) -> None:
    root = f"1/{RUN}/artifacts"
    events = [
        await put(store, f"{root}/same.txt", b"same"),
        await put(store, f"{root}/deep/changed.bin", b"original"),
        await put(store, f"{root}/gone.txt", b"gone"),
    ]
    await project(pool, *events)
    report = await verify_run_artifacts(pool, store, RUN)
    assert report.ok and (report.recorded, report.stored) == (3, 3)

    (store.root / root / "deep" / "changed.bin").write_bytes(b"tampered")
    (store.root / root / "gone.txt").unlink()
    await put(store, f"{root}/sneaked/in.txt", b"never recorded")
    report = await verify_run_artifacts(pool, store, RUN)
    assert not report.ok
    assert report.root == root, "derived from the records: the run itself is not projected"
    assert report.missing == [{"path": "gone.txt", "size": 4, "sha256": sha(b"gone")}]
    assert report.extra == [{"path": "sneaked/in.txt", "size": 14}]
    assert report.mismatched == [
        {
            "path": "deep/changed.bin",
            "recorded": {"size": 8, "sha256": sha(b"original")},
            "stored": {"size": 8, "sha256": sha(b"tampered")},
        }
    ]
    assert report.json()["ok"] is False


async def _create_run(pool: asyncpg.Pool, run_id: str, artifact_uri: str) -> None:
    await project(
        pool,
        ExperimentCreated(experiment_id="1", name=f"e-{run_id}", artifact_location="x"),
    )
    [verdict] = await project(
        pool,
        RunCreated(
            run_id=run_id,
            experiment_id="1",
            user_id="u",
            run_name="r",
            start_time=0,
            artifact_uri=artifact_uri,
        ),
    )
    assert verdict.accepted, verdict


async def test_verify_uses_the_runs_artifact_uri(
    pool: asyncpg.Pool, store: LocalArtifactStore
) -> None:
    await _create_run(pool, RUN, f"mlflow-artifacts:/1/{RUN}/artifacts")
    await put(store, f"1/{RUN}/artifacts/unrecorded.txt", b"x")
    report = await verify_run_artifacts(pool, store, RUN)
    assert (report.root, report.recorded) == (f"1/{RUN}/artifacts", 0)
    assert report.extra == [{"path": "unrecorded.txt", "size": 1}]


async def test_verify_refuses_unknown_runs_and_unproxied_roots(
    pool: asyncpg.Pool, store: LocalArtifactStore
) -> None:
    with pytest.raises(UnknownRun):
        await verify_run_artifacts(pool, store, RUN)
    await _create_run(pool, OTHER_RUN, "s3://elsewhere/1/x/artifacts")
    with pytest.raises(NotProxied):
        await verify_run_artifacts(pool, store, OTHER_RUN)
