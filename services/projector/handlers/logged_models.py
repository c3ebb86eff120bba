"""MLflow 3 logged models: created (PENDING), finalized, tags, params, deleted."""

from __future__ import annotations

import asyncpg

from schemas import (
    Envelope,
    LoggedModelCreated,
    LoggedModelDeleted,
    LoggedModelFinalized,
    LoggedModelParamsLogged,
    LoggedModelTagDeleted,
    LoggedModelTagsSet,
)
from services.projector.handlers.common import active_experiment, experiment_number, millis
from services.projector.projections import projects
from services.projector.verdict import Rejection


def not_found(model_id: str) -> Rejection:
    return Rejection("RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model_id}' not found.")


async def _existing(conn: asyncpg.Connection, model_id: str) -> None:
    found = await conn.fetchval(
        "SELECT 1 FROM logged_models WHERE model_id = $1 FOR UPDATE", model_id
    )
    if found is None:
        raise not_found(model_id)


async def _touch(conn: asyncpg.Connection, model_id: str, event: Envelope) -> None:
    await conn.execute(
        "UPDATE logged_models SET last_updated_timestamp_ms = $2 WHERE model_id = $1",
        model_id,
        millis(event.occurred_at),
    )


async def _upsert(
    conn: asyncpg.Connection, table: str, model_id: str, pairs: dict[str, str]
) -> None:
    if pairs:
        await conn.execute(
            f"INSERT INTO {table} (model_id, key, value) "
            "SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v) "
            "ON CONFLICT (model_id, key) DO UPDATE SET value = EXCLUDED.value",
            model_id,
            list(pairs),
            list(pairs.values()),
        )


@projects("logged_model.created")
async def created(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, LoggedModelCreated)
    await active_experiment(conn, payload.experiment_id)
    inserted = await conn.fetchval(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
        "creation_timestamp_ms, last_updated_timestamp_ms, model_type, source_run_id) "
        "VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1",
        payload.model_id,
        experiment_number(payload.experiment_id),
        payload.name,
        payload.artifact_location,
        payload.creation_time,
        payload.model_type,
        payload.source_run_id,
    )
    if inserted is None:
        raise Rejection(
            "RESOURCE_ALREADY_EXISTS", f"Logged model with ID '{payload.model_id}' already exists."
        )
    await _upsert(
        conn, "logged_model_params", payload.model_id, {p.key: p.value for p in payload.params}
    )
    await _upsert(
        conn, "logged_model_tags", payload.model_id, {t.key: t.value for t in payload.tags}
    )


@projects("logged_model.finalized")
async def finalized(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, LoggedModelFinalized)
    await _existing(conn, payload.model_id)
    await conn.execute(
        "UPDATE logged_models SET status = $2 WHERE model_id = $1",
        payload.model_id,
        payload.status,
    )
    await _touch(conn, payload.model_id, event)


@projects("logged_model.tags_set")
async def tags_set(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, LoggedModelTagsSet)
    await _existing(conn, payload.model_id)
    await _upsert(
        conn, "logged_model_tags", payload.model_id, {t.key: t.value for t in payload.tags}
    )


@projects("logged_model.tag_deleted")
async def tag_deleted(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, LoggedModelTagDeleted)
    await _existing(conn, payload.model_id)
    removed = await conn.fetchval(
        "DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2 RETURNING 1",
        payload.model_id,
        payload.key,
    )
    if removed is None:
        raise Rejection(
            "RESOURCE_DOES_NOT_EXIST",
            f"No tag with key {payload.key!r} found for model with ID {payload.model_id!r}.",
        )


@projects("logged_model.params_logged")
async def params_logged(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, LoggedModelParamsLogged)
    await _existing(conn, payload.model_id)
    await _upsert(
        conn, "logged_model_params", payload.model_id, {p.key: p.value for p in payload.params}
    )


@projects("logged_model.deleted")
async def deleted(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, LoggedModelDeleted)
    await _existing(conn, payload.model_id)
    await conn.execute(
        "UPDATE logged_models SET lifecycle_stage = 'deleted' WHERE model_id = $1",
        payload.model_id,
    )
    await _touch(conn, payload.model_id, event)
