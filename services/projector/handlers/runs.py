"""Runs' lifecycle on the control stream: create, update (status, end, name), delete, restore."""

from __future__ import annotations

import asyncpg

from schemas import Envelope, RunCreated, RunDeleted, RunRestored, RunUpdated
from services.projector.handlers.common import (
    active_experiment,
    active_run,
    experiment_number,
    find_run,
    millis,
)
from services.projector.projections import projects
from services.projector.verdict import Rejection

RUN_NAME_TAG = "mlflow.runName"


@projects("run.created")
async def created(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, RunCreated)
    await active_experiment(conn, payload.experiment_id)
    run_key = await conn.fetchval(
        "INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, "
        "artifact_uri) VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6) "
        "ON CONFLICT (run_id) DO NOTHING RETURNING run_key",
        payload.run_id,
        experiment_number(payload.experiment_id),
        payload.run_name,
        payload.user_id,
        payload.start_time,
        payload.artifact_uri,
    )
    if run_key is None:
        raise Rejection("RESOURCE_ALREADY_EXISTS", f"Run with id={payload.run_id} already exists")
    tags = {tag.key: tag.value for tag in payload.tags}
    tags.setdefault(RUN_NAME_TAG, payload.run_name)
    await conn.executemany(
        "INSERT INTO run_tags (run_key, key, value) VALUES ($1, $2, $3)",
        [(run_key, key, value) for key, value in tags.items()],
    )


async def rename(conn: asyncpg.Connection, run_key: int, name: str) -> None:
    """The run's name and its mlflow.runName tag always agree."""
    await conn.execute("UPDATE runs SET name = $2 WHERE run_key = $1", run_key, name)
    await conn.execute(
        "INSERT INTO run_tags (run_key, key, value) VALUES ($1, $2, $3) "
        "ON CONFLICT (run_key, key) DO UPDATE SET value = EXCLUDED.value",
        run_key,
        RUN_NAME_TAG,
        name,
    )


@projects("run.updated")
async def updated(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, RunUpdated)
    run = await active_run(conn, payload.run_id)
    if payload.status is not None or payload.end_time is not None:
        await conn.execute(
            "UPDATE runs SET status = coalesce($2, status), end_time = coalesce($3, end_time) "
            "WHERE run_key = $1",
            run.run_key,
            payload.status,
            payload.end_time,
        )
    if payload.run_name:
        await rename(conn, run.run_key, payload.run_name)


@projects("run.deleted")
async def deleted(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, RunDeleted)
    run = await find_run(conn, payload.run_id)
    await conn.execute(
        "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $2 WHERE run_key = $1",
        run.run_key,
        millis(event.occurred_at),
    )


@projects("run.restored")
async def restored(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, RunRestored)
    run = await find_run(conn, payload.run_id)
    await conn.execute(
        "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_key = $1",
        run.run_key,
    )
