"""Run tags: last writer wins; mlflow.runName renames the run."""

from __future__ import annotations

import asyncpg

from schemas import Envelope, RunTagDeleted, RunTagsSet
from services.projector.handlers.common import active_run
from services.projector.handlers.runs import RUN_NAME_TAG, rename
from services.projector.projections import projects
from services.projector.verdict import Rejection


@projects("run.tags_set")
async def tags_set(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, RunTagsSet)
    run = await active_run(conn, payload.run_id)
    latest = {tag.key: tag.value for tag in payload.tags}  # a repeated key: the last one wins
    name = latest.pop(RUN_NAME_TAG, None)
    if latest:
        await conn.execute(
            "INSERT INTO run_tags (run_key, key, value) "
            "SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v) "
            "ON CONFLICT (run_key, key) DO UPDATE SET value = EXCLUDED.value",
            run.run_key,
            list(latest),
            list(latest.values()),
        )
    if name is not None:
        await rename(conn, run.run_key, name)


@projects("run.tag_deleted")
async def tag_deleted(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, RunTagDeleted)
    run = await active_run(conn, payload.run_id)
    removed = await conn.fetchval(
        "DELETE FROM run_tags WHERE run_key = $1 AND key = $2 RETURNING 1",
        run.run_key,
        payload.key,
    )
    if removed is None:
        raise Rejection(
            "RESOURCE_DOES_NOT_EXIST",
            f"No tag with name: {payload.key} in run with id {payload.run_id}",
        )
