"""Carrying out a retention plan: the facts from the read models, what the store holds for each
run or model the plan collects, the deletion, and one `artifacts.collected` event per run or
model collected, published and waited for so that it is in the audit log.

Each collected run or model is checked again just before its files go (its state and the live
versions that could reference it, fetched afresh), its root is listed, every file is deleted, and
exactly the deleted keys are recorded. A second sweep finds nothing left to collect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias
from uuid import UUID

import asyncpg

from schemas import SYSTEM_ACTOR, ArtifactsCollected, Envelope, new_event
from services.artifacts.paths import join_key
from services.artifacts.records import walk
from services.artifacts.retention import (
    Collection,
    Locate,
    ModelFacts,
    Owner,
    Retained,
    RetentionPlan,
    RetentionPolicy,
    RunFacts,
    VersionFacts,
    plan,
    store_locator,
)
from services.artifacts.settings import ArtifactSettings
from services.artifacts.store import ArtifactStore
from services.projector.verdict import Verdict

if TYPE_CHECKING:
    from services.settings import CoreSettings, KafkaSettings

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool
Submit = Callable[[Sequence[Envelope]], Awaitable[dict[UUID, Verdict] | None]]
"""Publishes events and returns the projector's verdicts (`Node.submit`)."""


class Progress(Protocol):
    """Told what a sweep will delete, then of each file deleted."""

    def planned(self, files: int, size: int) -> None: ...

    def deleted(self, what: str, files: int, size: int) -> None: ...


DELETE_CONCURRENCY = 8
"""Files deleted at once."""
EVENT_PATHS_BYTES = 1 << 20
"""Most bytes of paths one `artifacts.collected` event carries, far below the largest record
the log accepts; a run with more files than fit is recorded in several events."""
SOURCE = "ledgerflow artifacts gc"

_RUN_COLUMNS = (
    "run_id, experiment_id::text, lifecycle_stage, start_time, deleted_time, artifact_uri"
)
_VERSION_COLUMNS = "name, version, source, run_id, model_id"


class SweepFailed(RuntimeError):
    """A sweep stopped part-way: ``report`` holds what was deleted and recorded before."""

    def __init__(self, report: GcReport, reason: str) -> None:
        super().__init__(reason)
        self.report = report


# -- facts -----------------------------------------------------------------------------------


def _experiment_numbers(policy: RetentionPolicy) -> list[int] | None:
    if not policy.experiments:
        return None
    try:
        return [int(e) for e in policy.experiments]
    except ValueError:
        raise ValueError(f"experiment ids are integers: {sorted(policy.experiments)}") from None


async def named_runs(conn: Connection, policy: RetentionPolicy) -> list[RunFacts]:
    """The runs the policy could name: the same rules in SQL, so only candidates are loaded."""
    rows = await conn.fetch(
        f"""SELECT {_RUN_COLUMNS} FROM runs
            WHERE ($3::bigint[] IS NULL OR experiment_id = ANY($3::bigint[]))
              AND ((lifecycle_stage = 'deleted' AND deleted_time < $1::bigint)
                   OR start_time < $2::bigint)
            ORDER BY run_id""",
        policy.deleted_before,
        policy.started_before,
        _experiment_numbers(policy),
    )
    return [RunFacts(*row) for row in rows]


async def runs_by_id(conn: Connection, run_ids: Sequence[str]) -> list[RunFacts]:
    rows = await conn.fetch(
        f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ANY($1::text[])", list(run_ids)
    )
    return [RunFacts(*row) for row in rows]


_MODELS = """
    WITH links(model_id, run_id) AS (
        SELECT model_id, source_run_id FROM logged_models WHERE source_run_id IS NOT NULL
        UNION SELECT o.model_id, r.run_id FROM run_model_outputs o JOIN runs r USING (run_key)
        UNION SELECT i.model_id, r.run_id FROM run_model_inputs i JOIN runs r USING (run_key)
    )
    SELECT m.model_id, m.experiment_id::text, m.artifact_location, m.source_run_id,
           coalesce(array_agg(DISTINCT l.run_id) FILTER (WHERE l.run_id IS NOT NULL), '{}')
    FROM logged_models m LEFT JOIN links l USING (model_id)
    WHERE m.model_id IN (SELECT model_id FROM links WHERE run_id = ANY($1::text[]))
       OR m.model_id = ANY($2::text[])
    GROUP BY m.model_id
    ORDER BY m.model_id"""


async def models_of(
    conn: Connection, run_ids: Sequence[str], model_ids: Sequence[str] = ()
) -> list[ModelFacts]:
    """Logged models belonging to any of ``run_ids`` (or named by id), with all their runs."""
    rows = await conn.fetch(_MODELS, list(run_ids), list(model_ids))
    return [ModelFacts(r[0], r[1], r[2], r[3], frozenset(r[4])) for r in rows]


async def live_versions(conn: Connection, mentioning: str | None = None) -> list[VersionFacts]:
    """Model versions that are not deleted; with ``mentioning``, only those whose run_id,
    model_id or source names that id, or whose source is another version."""
    if mentioning is None:
        rows = await conn.fetch(
            f"SELECT {_VERSION_COLUMNS} FROM model_versions "
            "WHERE current_stage <> 'Deleted_Internal'"
        )
    else:
        rows = await conn.fetch(
            f"""SELECT {_VERSION_COLUMNS} FROM model_versions
                WHERE current_stage <> 'Deleted_Internal'
                  AND (run_id = $1 OR model_id = $1 OR strpos(source, $1) > 0
                       OR source LIKE 'models:/%/%' OR source LIKE 'models:/%@%')""",
            mentioning,
        )
    return [VersionFacts(*row) for row in rows]


async def make_plan(conn: Connection, policy: RetentionPolicy, locate: Locate) -> RetentionPlan:
    runs = await named_runs(conn, policy)
    models = await models_of(conn, [r.run_id for r in runs])
    # The models may belong to runs the policy does not name: load those to tell.
    others = {run_id for m in models for run_id in m.runs} - {r.run_id for r in runs}
    runs += await runs_by_id(conn, sorted(others))
    return plan(policy, runs, models, await live_versions(conn), locate)


async def still_collected(
    conn: Connection, policy: RetentionPolicy, locate: Locate, owner: Owner
) -> Collection | Retained | None:
    """Decide again for one run or model from fresh facts, just before deleting its files: it
    may have been restored, or a version may reference it now. None if the policy no longer
    names it."""
    if owner.kind == "run":
        runs = await runs_by_id(conn, [owner.id])
        models: list[ModelFacts] = []
    else:
        models = await models_of(conn, [], [owner.id])
        runs = await runs_by_id(conn, sorted({r for m in models for r in m.runs}))
    fresh = plan(policy, runs, models, await live_versions(conn, owner.id), locate)
    decisions: list[Collection | Retained] = [*fresh.collect, *fresh.keep]
    for decision in decisions:
        if (decision.owner.kind, decision.owner.id) == (owner.kind, owner.id):
            return decision
    return None


# -- the sweep -------------------------------------------------------------------------------


@dataclass
class Sweep:
    """A run or model the plan collects, with the files its root holds (key -> size)."""

    collection: Collection
    files: dict[str, int]
    deleted: dict[str, int] = field(default_factory=dict)
    event_ids: list[UUID] = field(default_factory=list)

    @property
    def owner(self) -> Owner:
        return self.collection.owner

    @property
    def bytes(self) -> int:
        return sum(self.files.values())


@dataclass
class GcReport:
    plan: RetentionPlan
    sweeps: list[Sweep]
    """Collected runs and models that hold files (or held them, once applied)."""
    empty: int = 0
    """Collected runs and models whose roots hold nothing (already collected, or never used)."""
    applied: bool = False
    changed: list[Collection | Retained] = field(default_factory=list)
    """Collections dropped because a fresh check no longer collects them (or names them)."""

    @property
    def files(self) -> int:
        return sum(len(s.deleted if self.applied else s.files) for s in self.sweeps)

    @property
    def bytes(self) -> int:
        return sum(sum((s.deleted if self.applied else s.files).values()) for s in self.sweeps)

    def json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "policy": self.plan.policy.describe(),
            "collected": [
                {
                    "kind": s.owner.kind,
                    "id": s.owner.id,
                    "experiment_id": s.owner.experiment_id,
                    "root": s.owner.root,
                    "reason": s.collection.reason,
                    "files": len(s.deleted if self.applied else s.files),
                    "bytes": sum((s.deleted if self.applied else s.files).values()),
                    "paths": sorted(s.deleted if self.applied else s.files),
                    "event_ids": [str(e) for e in s.event_ids],
                }
                for s in self.sweeps
            ],
            "kept": [
                {
                    "kind": k.owner.kind,
                    "id": k.owner.id,
                    "experiment_id": k.owner.experiment_id,
                    "reason": k.reason,
                    "kept_because": k.because,
                    "detail": k.detail,
                    "versions": list(k.versions),
                }
                for k in self.plan.keep
            ],
            "changed": [
                {"kind": c.owner.kind, "id": c.owner.id, "now": _decision_text(c)}
                for c in self.changed
            ],
            "empty": self.empty,
            "totals": {"owners": len(self.sweeps), "files": self.files, "bytes": self.bytes},
        }


def _decision_text(decision: Collection | Retained) -> str:
    return decision.detail if isinstance(decision, Retained) else "not named any more"


async def files_under(store: ArtifactStore, root: str) -> dict[str, int]:
    """Every file below ``root``: store key -> size."""
    return {join_key(root, path): size for path, size in (await walk(store, root)).items()}


async def survey(
    conn: Connection, store: ArtifactStore, policy: RetentionPolicy, locate: Locate
) -> GcReport:
    """The plan, and what the store holds under each root it collects (the dry run)."""
    retention = await make_plan(conn, policy, locate)
    sweeps, empty = [], 0
    for collection in retention.collect:
        assert collection.owner.root is not None  # the plan keeps roots outside the store
        files = await files_under(store, collection.owner.root)
        if files:
            sweeps.append(Sweep(collection, files))
        else:
            empty += 1
    return GcReport(retention, sweeps, empty)


def collected_events(policy: RetentionPolicy, sweep: Sweep) -> list[Envelope]:
    """One `artifacts.collected` event for the sweep's deleted files (more only for a root
    with more paths than one event carries)."""
    description = f"{sweep.owner.kind} {sweep.owner.id}: {sweep.collection.reason}"
    description += f"; policy: {policy.describe()}"
    chunks: list[list[str]] = [[]]
    size = 0
    for path in sorted(sweep.deleted):
        if chunks[-1] and size + len(path) > EVENT_PATHS_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(path)
        size += len(path) + 4
    return [
        new_event(
            ArtifactsCollected(
                paths=chunk,
                bytes_freed=sum(sweep.deleted[p] for p in chunk),
                policy=description,
            ),
            actor=SYSTEM_ACTOR,
            source=SOURCE,
        )
        for chunk in chunks
    ]


async def _delete(
    store: ArtifactStore, sweep: Sweep, progress: Progress | None
) -> BaseException | None:
    """Delete the sweep's files, recording each one gone in ``sweep.deleted``; the first
    failure, if any, once every other deletion has finished."""
    limit = asyncio.Semaphore(DELETE_CONCURRENCY)
    label = f"{sweep.owner.kind} {sweep.owner.id}"

    async def delete(key: str, size: int) -> None:
        async with limit:
            await store.delete(key)
        sweep.deleted[key] = size
        if progress is not None:
            progress.deleted(label, 1, size)

    outcomes = await asyncio.gather(
        *(delete(key, size) for key, size in sorted(sweep.files.items())),
        return_exceptions=True,
    )
    return next((o for o in outcomes if isinstance(o, BaseException)), None)


async def collect(
    conn: Connection,
    store: ArtifactStore,
    submit: Submit,
    report: GcReport,
    locate: Locate,
    progress: Progress | None = None,
) -> GcReport:
    """Carry out a surveyed plan: for each collected run or model, check again, list its root
    afresh, delete every file, and record what was deleted before going on to the next."""
    policy = report.plan.policy
    if progress is not None:
        progress.planned(report.files, report.bytes)
    planned_sweeps, report.sweeps, report.applied = report.sweeps, [], True
    for planned in planned_sweeps:
        decision = await still_collected(conn, policy, locate, planned.owner)
        if not isinstance(decision, Collection):
            report.changed.append(decision or planned.collection)
            continue
        assert decision.owner.root is not None
        sweep = Sweep(decision, await files_under(store, decision.owner.root))
        if not sweep.files:
            continue
        failure = await _delete(store, sweep, progress)
        what = f"{sweep.owner.kind} {sweep.owner.id}"
        if sweep.deleted:
            # Recorded even when some deletions failed: what is gone must be in the audit log.
            events = collected_events(policy, sweep)
            try:
                verdicts = await submit(events) or {}
            except Exception as err:
                raise SweepFailed(
                    report, f"{what}: {len(sweep.deleted)} file(s) deleted but not recorded: {err}"
                ) from err
            sweep.event_ids = [e.event_id for e in events]
            report.sweeps.append(sweep)
            refused = [v for v in verdicts.values() if not v.accepted]
            if refused:
                raise SweepFailed(
                    report,
                    f"{what}: the projector rejected the record of its deletion: "
                    f"{refused[0].error_code} {refused[0].reason}",
                )
        if failure is not None:
            raise SweepFailed(report, f"{what}: deleting failed: {failure!r}") from failure
    return report


async def sweep(
    core: CoreSettings,
    kafka: KafkaSettings,
    settings: ArtifactSettings,
    policy: RetentionPolicy,
    *,
    apply: bool,
    run_projector: bool | None = None,
    verdict_timeout: float = 30.0,
    progress: Progress | None = None,
) -> GcReport:
    """`ledgerflow artifacts gc`: survey (the dry run) or survey and collect, with the same
    database, event log and store a server with these settings uses. Applying needs the
    projector's verdicts: the embedded default projects in this process (beside a running
    server, which is safe: positions are locked per batch); with Kafka the projector workers
    (or a gateway running one) must be up."""
    from services.artifacts.factory import open_artifact_store
    from services.node import Node
    from services.store.connect import open_database

    locate = store_locator(settings)
    if not apply:
        database = await open_database(core)
        try:
            store = await open_artifact_store(settings, core.data_dir)
            try:
                return await survey(database.pool, store, policy, locate)
            finally:
                await store.close()
        finally:
            await database.close()
    node = Node(
        core,
        kafka,
        run_projector=run_projector,
        verdict_timeout=verdict_timeout,
        artifacts=settings,
    )
    try:
        await node.start()
        report = await survey(node.database.pool, node.artifacts, policy, locate)
        return await collect(
            node.database.pool, node.artifacts, node.submit, report, locate, progress
        )
    finally:
        await node.close()
