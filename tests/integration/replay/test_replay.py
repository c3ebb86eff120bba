"""Replay rebuilds the read models from the audit log and from the event log, identical to the
live ones; the swap happens while writes go on, losing and repeating nothing; old event versions
are upcast on the way."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from schemas import (
    Actor,
    ExperimentCreated,
    MetricPoint,
    MetricsLogged,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionStageTransitioned,
    Param,
    ParamsLogged,
    RegisteredModelCreated,
    RunCreated,
    RunTagsSet,
    Tag,
    new_event,
)
from schemas.envelope import format_time
from services.node import Node
from services.replay import runner
from services.replay.digest import compare
from services.replay.schema import create_fresh
from services.replay.sources import AuditSource, EventLogSource
from services.settings import CoreSettings
from services.store.pool import READ_SCHEMA, connect

ACTOR = Actor(name="replay-test", kind="self_reported")


def ev(payload):  # type: ignore[no-untyped-def]
    return new_event(payload, actor=ACTOR, source="test")


async def fill(node: Node, runs: int = 6, points: int = 3000) -> list[str]:
    """Experiments, runs with params, tags and metrics, and a registry with stages and aliases."""
    experiment = str(
        await node.database.pool.fetchval("SELECT nextval('ledgerflow.experiment_ids')")
    )
    await node.submit(
        [
            ev(
                ExperimentCreated(
                    experiment_id=experiment,
                    name=f"e-{experiment}",
                    artifact_location=f"mlflow-artifacts:/{experiment}",
                )
            )
        ]
    )
    run_ids = [uuid.uuid4().hex for _ in range(runs)]
    await node.submit(
        [
            ev(
                RunCreated(
                    run_id=r,
                    experiment_id=experiment,
                    user_id="u",
                    run_name=f"r{i}",
                    start_time=1_700_000_000_000 + i,
                    artifact_uri=f"x/{r}",
                )
            )
            for i, r in enumerate(run_ids)
        ]
    )
    events = []
    for i, run_id in enumerate(run_ids):
        events.append(ev(ParamsLogged(run_id=run_id, params=[Param(key="lr", value=str(i))])))
        events.append(ev(RunTagsSet(run_id=run_id, tags=[Tag(key="team", value="a")])))
        for start in range(0, points, 1000):
            events.append(
                ev(
                    MetricsLogged.of(
                        run_id=run_id,
                        points=[
                            MetricPoint(
                                key=f"m{j % 3}",
                                value=float(j) if j % 97 else float("nan"),
                                timestamp=1_700_000_000_000 + j,
                                step=j,
                            )
                            for j in range(start, start + 1000)
                        ],
                    )
                )
            )
    await node.submit(events)
    name = f"model-{experiment}"
    await node.submit([ev(RegisteredModelCreated(name=name))])
    for run_id in run_ids[:3]:
        await node.submit(
            [ev(ModelVersionCreated(name=name, source=f"runs:/{run_id}/m", run_id=run_id))]
        )
    await node.submit(
        [
            ev(ModelVersionStageTransitioned(name=name, version=1, stage="Production")),
            ev(
                ModelVersionStageTransitioned(
                    name=name, version=3, stage="production", archive_existing_versions=True
                )
            ),
            ev(ModelAliasSet(name=name, alias="champion", version=2)),
        ]
    )
    return run_ids


@pytest.fixture
async def node(db_dsn: str, tmp_path: Path):
    core = CoreSettings(
        data_dir=tmp_path, database_url=SecretStr(db_dsn), topic_prefix="rp", data_partitions=3
    )
    node = Node(core, verdict_timeout=60)
    await node.start()
    yield node
    await node.close()


async def test_replay_from_both_sources_is_identical(node: Node, db_dsn: str) -> None:
    await fill(node)
    admin = await connect(db_dsn)
    try:
        for schema, make_source in (
            ("rebuilt_audit", lambda conn: AuditSource(conn)),
            ("rebuilt_log", lambda conn: EventLogSource(node.event_log)),
        ):
            await create_fresh(admin, schema)
            conn = await runner.connect_to(db_dsn, schema)
            try:
                stats = await runner.replay(conn, schema, make_source(conn), max_batch=50)
                assert stats.points == 6 * 3000
            finally:
                await conn.close()
            comparison = await compare(admin, READ_SCHEMA, schema)
            assert comparison.identical, comparison.samples
            assert {t for t, a, _ in comparison.tables if a and a.rows} >= {
                "experiments",
                "runs",
                "metrics",
                "latest_metrics",
                "run_params",
                "run_tags",
                "registered_models",
                "model_versions",
                "registered_model_aliases",
            }
    finally:
        await admin.close()


async def test_an_interrupted_replay_resumes_without_repeating(node: Node, db_dsn: str) -> None:
    await fill(node, runs=3)
    admin = await connect(db_dsn)
    conn = await runner.connect_to(db_dsn, "rebuilt")
    try:
        await create_fresh(admin, "rebuilt")
        source = AuditSource(conn)
        batches = source.batches({}, 7)
        # apply a few batches by hand, then "crash" (stop iterating)
        from services.projector.batch import REPLAY, project_batch

        for _ in range(3):
            batch = await anext(batches)
            await project_batch(
                conn,
                batch,
                consumer=runner.consumer_for("rebuilt"),
                deadletter=runner._no_deadletters,
                target=REPLAY,
            )
        await batches.aclose()
        await runner.replay(conn, "rebuilt", AuditSource(conn), max_batch=7)
        comparison = await compare(admin, READ_SCHEMA, "rebuilt")
        assert comparison.identical, comparison.samples
    finally:
        await conn.close()
        await admin.close()


async def test_a_differing_schema_is_named_and_not_swapped(node: Node, db_dsn: str) -> None:
    await fill(node, runs=2, points=1000)
    admin = await connect(db_dsn)
    conn = await runner.connect_to(db_dsn, "rebuilt")
    try:
        await create_fresh(admin, "rebuilt")
        await runner.replay(conn, "rebuilt", AuditSource(conn))
        await admin.execute("UPDATE rebuilt.run_params SET value = 'tampered' WHERE key = 'lr'")
        result = await runner.catch_up_and_swap(admin, conn, "rebuilt")
        assert not result.swapped
        assert result.comparison.differing() == ["run_params"]
        assert any("tampered" in line for line in result.comparison.samples["run_params"])
        assert await admin.fetchval("SELECT count(*) FROM readmodel.run_params") == 2
    finally:
        await conn.close()
        await admin.close()


async def test_swap_while_writes_go_on(node: Node, db_dsn: str) -> None:
    run_ids = await fill(node, runs=3)
    stop = asyncio.Event()
    written: list[int] = []
    milestones = {20: asyncio.Event(), 60: asyncio.Event()}

    async def keep_writing() -> None:
        step = 10_000
        while not stop.is_set():
            await node.submit(
                [
                    ev(
                        MetricsLogged.of(
                            run_id=run_ids[0],
                            points=[
                                MetricPoint(
                                    key="live", value=float(step), timestamp=step, step=step
                                )
                            ],
                        )
                    )
                ]
            )
            written.append(step)
            step += 1
            for count, reached in milestones.items():
                if len(written) >= count:
                    reached.set()

    writer = asyncio.create_task(keep_writing())
    admin = await connect(db_dsn)
    conn = await runner.connect_to(db_dsn, "rebuilt")
    try:
        await create_fresh(admin, "rebuilt")
        await runner.replay(conn, "rebuilt", EventLogSource(node.event_log), max_batch=20)
        await asyncio.wait_for(milestones[20].wait(), 60)  # writes arrive after the rebuild too
        result = await runner.catch_up_and_swap(admin, conn, "rebuilt")
        assert result.swapped, result.comparison.samples
        assert result.tail_events > 0
        after_swap = len(written)
        await asyncio.wait_for(milestones[60].wait(), 60)
        assert len(written) > after_swap, "writes go on after the swap"
    finally:
        stop.set()
        await writer
        await conn.close()
    try:
        steps = {
            r[0]
            for r in await admin.fetch(
                "SELECT m.step FROM readmodel.metrics m JOIN readmodel.metric_keys k "
                "USING (key_id) WHERE k.key = 'live'"
            )
        }
        assert steps == set(written), "every write, before, during and after the swap, once"
        count = await admin.fetchval(
            "SELECT count(*) FROM readmodel.metrics m JOIN readmodel.metric_keys k "
            "USING (key_id) WHERE k.key = 'live'"
        )
        assert count == len(written)
        assert result.retired and await admin.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1", result.retired
        )
    finally:
        await admin.close()


async def test_old_event_versions_are_upcast_on_replay(node: Node, db_dsn: str) -> None:
    # A v1 experiment.created, as an old producer wrote it: tags as a JSON object.
    v1 = {
        "event_id": str(uuid.UUID(int=uuid.uuid4().int & ~(0xF << 76) | (7 << 76))),
        "type": "experiment.created",
        "schema_version": 1,
        "aggregate": "900",
        "occurred_at": "2026-03-03T09:00:00.000000Z",
        "actor": {"name": "old-producer", "kind": "self_reported"},
        "source": "legacy",
        "payload": {
            "experiment_id": "900",
            "name": "legacy",
            "artifact_location": "x/900",
            "tags": {"origin": "v1"},
        },
    }
    event = ev(
        ExperimentCreated(
            experiment_id="901",
            name="current",
            artifact_location="x/901",
            tags=[Tag(key="origin", value="v2")],
        )
    )
    layout = node.event_log.layout
    await node.event_log.append(layout.control, [(b"900", orjson.dumps(v1))])
    await node.submit([event])
    # A run with metrics in both shapes: v1 points as objects, v2 as columns.
    run_id = uuid.uuid4().hex
    run = RunCreated(
        run_id=run_id,
        experiment_id="901",
        user_id="u",
        run_name="both",
        start_time=1,
        artifact_uri="x/901/run",
    )
    run_event = ev(run)
    await node.submit([run_event])
    v1_metrics = {
        **v1,
        "event_id": str(uuid.UUID(int=uuid.uuid4().int & ~(0xF << 76) | (7 << 76))),
        # replay from the log merges partitions by occurrence: not before its run
        "occurred_at": format_time(run_event.occurred_at),
        "type": "metrics.logged",
        "aggregate": run_id,
        "payload": {
            "run_id": run_id,
            "metrics": [
                {"key": "loss", "value": "NaN", "timestamp": 5, "step": 0},
                {"key": "loss", "value": 0.5, "timestamp": 6, "step": 1, "model_id": "m-1"},
            ],
        },
    }
    await node.event_log.append(layout.data, [(run_id.encode(), orjson.dumps(v1_metrics))])
    await node.submit(
        [ev(MetricsLogged.of(run_id, [MetricPoint(key="loss", value=0.25, timestamp=7, step=2)]))]
    )
    pool = node.database.pool
    history = (
        "SELECT m.step, m.value::text, m.model_id FROM {schema}.metrics m "
        "JOIN {schema}.runs r USING (run_key) WHERE r.run_id = $1 ORDER BY m.step"
    )
    expected_history = [(0, "NaN", None), (1, "0.5", "m-1"), (2, "0.25", None)]
    # same key, same partition: the v1 record was projected before the v2 one returned
    rows = await pool.fetch(history.format(schema=READ_SCHEMA), run_id)
    assert [tuple(r) for r in rows] == expected_history
    assert (
        await pool.fetchval(
            "SELECT value FROM experiment_tags WHERE experiment_id = 900 AND key = 'origin'"
        )
        == "v1"
    )
    admin = await connect(db_dsn)
    try:
        for schema, make_source in (
            ("from_audit", lambda c: AuditSource(c)),
            ("from_log", lambda c: EventLogSource(node.event_log)),
        ):
            await create_fresh(admin, schema)
            conn = await runner.connect_to(db_dsn, schema)
            try:
                await runner.replay(conn, schema, make_source(conn))
            finally:
                await conn.close()
            comparison = await compare(admin, READ_SCHEMA, schema)
            assert comparison.identical, (comparison.differing(), comparison.samples)
            tags = await admin.fetch(
                f"SELECT experiment_id, value FROM {schema}.experiment_tags "
                "WHERE key = 'origin' ORDER BY 1"
            )
            assert [(r[0], r[1]) for r in tags] == [(900, "v1"), (901, "v2")]
            rows = await admin.fetch(history.format(schema=schema), run_id)
            assert [tuple(r) for r in rows] == expected_history
        # the audit log keeps the event as it was written: version 1, tags as an object
        stored = await admin.fetchval(
            "SELECT event FROM audit_log "
            "WHERE aggregate = '900' AND event_type = 'experiment.created'"
        )
        assert orjson.loads(stored)["schema_version"] == 1
    finally:
        await admin.close()
