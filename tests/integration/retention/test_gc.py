"""A retention sweep over read models built from real events in PostgreSQL, on both stores:
the dry run changes nothing; applied, it deletes exactly what the policy names and no version
references, records one `artifacts.collected` event per run or model, marks the files in
`artifact_files` so verification does not call them missing, and a second sweep finds nothing."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from pydantic import SecretStr

from schemas import (
    ArtifactsCollected,
    Envelope,
    ExperimentCreated,
    LoggedModelCreated,
    ModelOutput,
    ModelVersionCreated,
    ModelVersionDeleted,
    OutputsLogged,
    Payload,
    RegisteredModelCreated,
    RunCreated,
    RunDeleted,
    RunRestored,
    decode,
    encode,
    new_event,
    stream_of,
)
from services.artifacts.gc import collect, files_under, survey
from services.artifacts.layout import stored_event
from services.artifacts.local import LocalArtifactStore
from services.artifacts.records import run_records, verify_run_artifacts
from services.artifacts.retention import RetentionPolicy, store_locator
from services.artifacts.s3 import S3ArtifactStore
from services.artifacts.settings import ArtifactSettings
from services.artifacts.store import ArtifactStore
from services.log.base import LogRecord
from services.projector.batch import project_batch
from services.projector.verdict import Verdict
from tests.samples import TEST_ACTOR
from tests.stack.s3 import S3Endpoint

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)
EXPERIMENT = "1"

# Run ids as MLflow makes them (32 hex digits), readable in failures by their first letters.
OLD_DELETED = "0d" + "0" * 30
RECENT_DELETED = "1d" + "0" * 30
OLD_ACTIVE = "2a" + "0" * 30
YOUNG = "3a" + "0" * 30
REFERENCED = "4f" + "0" * 30
DELETED_VERSION = "5f" + "0" * 30
MODEL_RUN = "6d" + "0" * 30
ORPHAN_MODEL = "m-" + "a" * 32
REGISTERED_MODEL = "m-" + "b" * 32


class Log:
    """Projects events the way the projector does: each stream its own topic and offsets."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.offsets = {"control": itertools.count(), "data": itertools.count()}

    async def submit(self, events: Sequence[Envelope]) -> dict[UUID, Verdict]:
        records = []
        for event in events:
            stream = stream_of(event.type)
            records.append(
                LogRecord(
                    f"t.{stream}",
                    0,
                    next(self.offsets[stream]),
                    event.aggregate.encode(),
                    encode(event),
                    0,
                )
            )

        async def no_deadletters(letters: Sequence[object]) -> None:
            raise AssertionError(letters)

        async with self.pool.acquire() as conn:
            result = await project_batch(conn, records, consumer="c", deadletter=no_deadletters)
        return result.verdicts

    async def project(self, *payloads: Payload, at: datetime | None = None) -> None:
        events = [new_event(p, actor=TEST_ACTOR, source="test", occurred_at=at) for p in payloads]
        verdicts = await self.submit(events)
        assert all(v.accepted for v in verdicts.values()), verdicts


class Recorder:
    """A sweep's progress, as the CLI's bar would see it."""

    def __init__(self) -> None:
        self.planned_total: tuple[int, int] | None = None
        self.calls: list[tuple[str, int, int]] = []

    def planned(self, files: int, size: int) -> None:
        self.planned_total = (files, size)

    def deleted(self, what: str, files: int, size: int) -> None:
        self.calls.append((what, files, size))


@pytest.fixture
def log(pool: asyncpg.Pool) -> Log:
    return Log(pool)


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ArtifactStore, ArtifactSettings]]:
    if request.param == "local":
        settings = ArtifactSettings(backend="local", local_dir=tmp_path / "artifacts")
        local = LocalArtifactStore(tmp_path / "artifacts")
        yield local, settings
        await local.close()
        return
    endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
    settings = ArtifactSettings(
        backend="s3",
        s3_endpoint_url=endpoint.url,
        s3_bucket=f"gc-{uuid.uuid4().hex[:12]}",
        s3_prefix="kept/below",
        s3_region=endpoint.region,
        s3_access_key_id=SecretStr(endpoint.access_key),
        s3_secret_access_key=SecretStr(endpoint.secret_key),
        s3_create_bucket=True,
    )
    s3 = S3ArtifactStore(settings)
    await s3.start()
    yield s3, settings
    await s3.close()


async def put(log: Log, store: ArtifactStore, key: str, data: bytes) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield data

    payload = stored_event(key, await store.put(key, body()))
    assert payload is not None
    await log.project(payload)


def run_root(run_id: str) -> str:
    return f"{EXPERIMENT}/{run_id}/artifacts"


def model_root(model_id: str) -> str:
    return f"{EXPERIMENT}/models/{model_id}/artifacts"


async def everything(store: ArtifactStore) -> dict[str, int]:
    return await files_under(store, EXPERIMENT)


async def prepare(log: Log, store: ArtifactStore) -> dict[str, int]:
    """The prepared set; returns what the store holds, key -> size."""
    await log.project(
        ExperimentCreated(
            experiment_id=EXPERIMENT, name="gc", artifact_location=f"mlflow-artifacts:/{EXPERIMENT}"
        )
    )
    started = {
        OLD_DELETED: NOW - 50 * DAY,
        RECENT_DELETED: NOW - 50 * DAY,
        OLD_ACTIVE: NOW - 120 * DAY,
        YOUNG: NOW - 2 * DAY,
        REFERENCED: NOW - 50 * DAY,
        DELETED_VERSION: NOW - 50 * DAY,
        MODEL_RUN: NOW - 50 * DAY,
    }
    for run_id, start in started.items():
        await log.project(
            RunCreated(
                run_id=run_id,
                experiment_id=EXPERIMENT,
                user_id="u",
                run_name=run_id[:2],
                start_time=int(start.timestamp() * 1000),
                artifact_uri=f"mlflow-artifacts:/{run_root(run_id)}",
            ),
            at=start,
        )
        await put(log, store, f"{run_root(run_id)}/notes.txt", f"notes of {run_id}".encode())
        await put(log, store, f"{run_root(run_id)}/deep/dir/data.bin", run_id.encode() * 100)
    for model_id in (ORPHAN_MODEL, REGISTERED_MODEL):
        await log.project(
            LoggedModelCreated(
                model_id=model_id,
                experiment_id=EXPERIMENT,
                name="model",
                artifact_location=f"mlflow-artifacts:/{model_root(model_id)}",
                source_run_id=MODEL_RUN,
                creation_time=int((NOW - 50 * DAY).timestamp() * 1000),
            ),
            OutputsLogged(run_id=MODEL_RUN, models=[ModelOutput(model_id=model_id)]),
        )
        await put(log, store, f"{model_root(model_id)}/MLmodel", b"flavors: {}")
        await put(log, store, f"{model_root(model_id)}/model.pkl", b"pickle" * 50)
    await log.project(RunDeleted(run_id=OLD_DELETED), at=NOW - 45 * DAY)
    await log.project(RunDeleted(run_id=RECENT_DELETED), at=NOW - 3 * DAY)
    await log.project(RunDeleted(run_id=REFERENCED), at=NOW - 45 * DAY)
    await log.project(RunDeleted(run_id=DELETED_VERSION), at=NOW - 45 * DAY)
    await log.project(RunDeleted(run_id=MODEL_RUN), at=NOW - 45 * DAY)
    await log.project(
        RegisteredModelCreated(name="clf"),
        ModelVersionCreated(name="clf", source=f"runs:/{REFERENCED}/model", run_id=REFERENCED),
        ModelVersionCreated(
            name="clf", source=f"models:/{REGISTERED_MODEL}", model_id=REGISTERED_MODEL
        ),
        ModelVersionCreated(
            name="clf", source=f"runs:/{DELETED_VERSION}/model", run_id=DELETED_VERSION
        ),
    )
    await log.project(ModelVersionDeleted(name="clf", version=3))
    return await everything(store)


POLICY = RetentionPolicy(
    now=NOW,
    deleted_older_than=30 * DAY,
    runs_older_than=90 * DAY,
    experiments=frozenset({EXPERIMENT}),
)
COLLECTED = {
    ("run", OLD_DELETED): "deleted 45 days ago",
    ("run", OLD_ACTIVE): "started 120 days ago",
    ("run", DELETED_VERSION): "deleted 45 days ago",
    ("run", MODEL_RUN): "deleted 45 days ago",
    ("model", ORPHAN_MODEL): f"belongs only to run {MODEL_RUN} (deleted 45 days ago)",
}


async def test_gc_removes_exactly_what_the_policy_names(
    pool: asyncpg.Pool, log: Log, store: tuple[ArtifactStore, ArtifactSettings]
) -> None:
    artifacts, settings = store
    locate = store_locator(settings)
    before = await prepare(log, artifacts)

    dry = await survey(pool, artifacts, POLICY, locate)
    assert not dry.applied
    assert {(s.owner.kind, s.owner.id): s.collection.reason for s in dry.sweeps} == COLLECTED
    assert {(k.owner.kind, k.owner.id): k.versions for k in dry.plan.keep} == {
        ("run", REFERENCED): ("clf v1",),
        ("model", REGISTERED_MODEL): ("clf v2",),
    }
    doomed = {
        key
        for key in before
        if any(
            key.startswith(run_root(i) + "/") or key.startswith(model_root(i) + "/")
            for _, i in COLLECTED
        )
    }
    assert len(doomed) == 10
    assert {path for s in dry.sweeps for path in s.files} == doomed
    assert dry.bytes == sum(before[key] for key in doomed)
    assert await everything(artifacts) == before  # the dry run changed nothing

    progress = Recorder()
    applied = await collect(pool, artifacts, log.submit, dry, locate, progress)
    assert applied.applied and not applied.changed
    assert progress.planned_total == (10, dry.bytes)
    assert (len(progress.calls), sum(size for _, _, size in progress.calls)) == (10, dry.bytes)
    assert {path for s in applied.sweeps for path in s.deleted} == doomed
    after = await everything(artifacts)
    assert after == {key: size for key, size in before.items() if key not in doomed}
    assert any(k.startswith(run_root(REFERENCED)) for k in after)
    assert any(k.startswith(model_root(REGISTERED_MODEL)) for k in after)
    assert any(k.startswith(run_root(RECENT_DELETED)) for k in after)
    assert any(k.startswith(run_root(YOUNG)) for k in after)

    # one accepted artifacts.collected event per run or model, naming exactly its files
    rows = await pool.fetch(
        "SELECT event, verdict, actor_kind FROM audit_log "
        "WHERE event_type = 'artifacts.collected' ORDER BY seq"
    )
    assert len(rows) == len(COLLECTED)
    assert {r["verdict"] for r in rows} == {"accepted"}
    assert {r["actor_kind"] for r in rows} == {"system"}
    decoded = [decode(r["event"].encode()).payload for r in rows]
    payloads = [p for p in decoded if isinstance(p, ArtifactsCollected)]
    assert len(payloads) == len(decoded)
    assert sorted(p for payload in payloads for p in payload.paths) == sorted(doomed)
    assert sum(p.bytes_freed for p in payloads) == dry.bytes
    assert all("policy: runs deleted more than 30 days ago" in p.policy for p in payloads)

    # the records stay, marked; verification expects them gone
    marked = await pool.fetch(
        "SELECT store_path FROM artifact_files WHERE collected_at IS NOT NULL"
    )
    assert {r["store_path"] for r in marked} == doomed
    report = await verify_run_artifacts(pool, artifacts, OLD_DELETED)
    assert report.ok and report.collected == 2 and report.recorded == 0, report.json()
    assert (await verify_run_artifacts(pool, artifacts, REFERENCED)).ok

    # a second sweep finds nothing to collect
    again = await survey(pool, artifacts, POLICY, locate)
    assert again.sweeps == [] and again.empty == len(COLLECTED)
    again = await collect(pool, artifacts, log.submit, again, locate)
    assert again.sweeps == []
    assert await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE event_type = 'artifacts.collected'"
    ) == len(COLLECTED)


async def test_each_collection_is_decided_again_just_before_deleting(
    pool: asyncpg.Pool, log: Log, store: tuple[ArtifactStore, ArtifactSettings]
) -> None:
    artifacts, settings = store
    locate = store_locator(settings)
    before = await prepare(log, artifacts)
    planned = await survey(pool, artifacts, POLICY, locate)
    # between the dry run and the deletion: one run is restored, another gets a version
    await log.project(RunRestored(run_id=OLD_DELETED))
    await log.project(
        ModelVersionCreated(name="clf", source=f"runs:/{OLD_ACTIVE}/x", run_id=OLD_ACTIVE)
    )
    applied = await collect(pool, artifacts, log.submit, planned, locate)
    assert {(c.owner.kind, c.owner.id) for c in applied.changed} == {
        ("run", OLD_DELETED),
        ("run", OLD_ACTIVE),
    }
    assert applied.json()["changed"] == [
        {"kind": "run", "id": OLD_DELETED, "now": "not named any more"},
        {"kind": "run", "id": OLD_ACTIVE, "now": "referenced by clf v4"},
    ]
    after = await everything(artifacts)
    for run_id in (OLD_DELETED, OLD_ACTIVE):
        kept = {k for k in before if k.startswith(run_root(run_id) + "/")}
        assert kept and kept <= after.keys()
    assert {(s.owner.kind, s.owner.id) for s in applied.sweeps} == set(COLLECTED) - {
        ("run", OLD_DELETED),
        ("run", OLD_ACTIVE),
    }


async def test_a_path_stored_again_after_collection_is_live_again(
    pool: asyncpg.Pool, log: Log, store: tuple[ArtifactStore, ArtifactSettings]
) -> None:
    artifacts, settings = store
    locate = store_locator(settings)
    await prepare(log, artifacts)
    await collect(
        pool, artifacts, log.submit, await survey(pool, artifacts, POLICY, locate), locate
    )
    await put(log, artifacts, f"{run_root(OLD_DELETED)}/notes.txt", b"back again")
    records = {r.path: r.collected_at for r in await run_records(pool, OLD_DELETED)}
    assert records["notes.txt"] is None and records["deep/dir/data.bin"] is not None
    report = await verify_run_artifacts(pool, artifacts, OLD_DELETED)
    assert report.ok and (report.recorded, report.collected) == (1, 1), report.json()


async def test_a_collected_event_outside_any_root_is_rejected(pool: asyncpg.Pool, log: Log) -> None:
    events = [
        new_event(
            ArtifactsCollected(paths=[p], bytes_freed=1, policy="test"),
            actor=TEST_ACTOR,
            source="test",
        )
        for p in ("1/traces/t/artifacts/a", "1/r/artifacts/../../x")
    ]
    verdicts = await log.submit(events)
    assert [v.error_code for v in verdicts.values()] == ["INVALID_PARAMETER_VALUE"] * 2
