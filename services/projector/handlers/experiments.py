"""Experiments: create, rename, delete (with its runs), restore, tags."""

from __future__ import annotations

import asyncpg

from schemas import (
    Envelope,
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagSet,
)
from services.projector.handlers.common import (
    active_experiment,
    experiment_number,
    experiment_stage,
    millis,
)
from services.projector.projections import projects
from services.projector.verdict import Rejection


async def _name_taken(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM experiments WHERE name = $1", name))


@projects("experiment.created")
async def created(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, ExperimentCreated)
    number = experiment_number(payload.experiment_id)
    if await _name_taken(conn, payload.name):
        raise Rejection(
            "RESOURCE_ALREADY_EXISTS", f"Experiment(name={payload.name}) already exists."
        )
    if await conn.fetchval("SELECT 1 FROM experiments WHERE experiment_id = $1", number):
        raise Rejection(
            "RESOURCE_ALREADY_EXISTS",
            f"Experiment(experiment_id={payload.experiment_id}) already exists.",
        )
    now = millis(event.occurred_at)
    await conn.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, "
        "last_update_time) VALUES ($1, $2, $3, $4, $4)",
        number,
        payload.name,
        payload.artifact_location,
        now,
    )
    if payload.tags:
        await conn.executemany(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (experiment_id, key) DO UPDATE SET value = EXCLUDED.value",
            [(number, tag.key, tag.value) for tag in payload.tags],
        )


@projects("experiment.renamed")
async def renamed(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, ExperimentRenamed)
    if await experiment_stage(conn, payload.experiment_id) != "active":
        raise Rejection("INVALID_STATE", "Cannot rename a non-active experiment.")
    number = experiment_number(payload.experiment_id)
    current = await conn.fetchval("SELECT name FROM experiments WHERE experiment_id = $1", number)
    if current != payload.new_name and await _name_taken(conn, payload.new_name):
        raise Rejection(
            "RESOURCE_ALREADY_EXISTS", f"Experiment(name={payload.new_name}) already exists."
        )
    await conn.execute(
        "UPDATE experiments SET name = $2, last_update_time = $3 WHERE experiment_id = $1",
        number,
        payload.new_name,
        millis(event.occurred_at),
    )


@projects("experiment.deleted")
async def deleted(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, ExperimentDeleted)
    if await experiment_stage(conn, payload.experiment_id) != "active":
        raise Rejection(
            "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={payload.experiment_id} exists"
        )
    number = experiment_number(payload.experiment_id)
    now = millis(event.occurred_at)
    await conn.execute(
        "UPDATE experiments SET lifecycle_stage = 'deleted', last_update_time = $2 "
        "WHERE experiment_id = $1",
        number,
        now,
    )
    await conn.execute(
        "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $2 WHERE experiment_id = $1",
        number,
        now,
    )


@projects("experiment.restored")
async def restored(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, ExperimentRestored)
    if await experiment_stage(conn, payload.experiment_id) != "deleted":
        raise Rejection(
            "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={payload.experiment_id} exists"
        )
    number = experiment_number(payload.experiment_id)
    await conn.execute(
        "UPDATE experiments SET lifecycle_stage = 'active', last_update_time = $2 "
        "WHERE experiment_id = $1",
        number,
        millis(event.occurred_at),
    )
    await conn.execute(
        "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = $1",
        number,
    )


@projects("experiment.tag_set")
async def tag_set(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, ExperimentTagSet)
    await active_experiment(conn, payload.experiment_id)
    await conn.execute(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) "
        "ON CONFLICT (experiment_id, key) DO UPDATE SET value = EXCLUDED.value",
        experiment_number(payload.experiment_id),
        payload.key,
        payload.value,
    )


@projects("experiment.tag_deleted")
async def tag_deleted(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, ExperimentTagDeleted)
    await active_experiment(conn, payload.experiment_id)
    removed = await conn.fetchval(
        "DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2 RETURNING 1",
        experiment_number(payload.experiment_id),
        payload.key,
    )
    if removed is None:
        raise Rejection(
            "RESOURCE_DOES_NOT_EXIST",
            f"No tag with name: {payload.key} in experiment with id {payload.experiment_id}",
        )
