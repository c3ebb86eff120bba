"""Artifacts: every stored file is recorded (path, size, sha256); the last write of a path wins.

An upload is recorded even when its run is not (yet) in the read model: other clients may upload
before their run's creation is projected, and the bytes are in the store either way. The only
refusal is an event that contradicts itself (its path is not under its run's or model's root).
"""

from __future__ import annotations

import asyncpg

from schemas import ArtifactStored, Envelope
from services.artifacts.layout import owner_of
from services.artifacts.paths import UnsafePath, check_key
from services.projector.handlers.common import millis
from services.projector.projections import projects
from services.projector.verdict import Rejection, Verdict


@projects("artifact.stored")
async def stored(conn: asyncpg.Connection, event: Envelope) -> Verdict | None:
    payload = event.payload
    assert isinstance(payload, ArtifactStored)
    try:
        owner = owner_of(check_key(payload.path))
    except UnsafePath as err:
        raise Rejection("INVALID_PARAMETER_VALUE", err.message) from None
    if owner is None or (owner.run_id, owner.model_id) != (payload.run_id, payload.model_id):
        whose = f"run {payload.run_id}" if payload.run_id else f"model {payload.model_id}"
        raise Rejection(
            "INVALID_PARAMETER_VALUE",
            f"Artifact path '{payload.path}' is not under the artifact root of {whose}",
        )
    await conn.execute(
        """INSERT INTO artifact_files
               (store_path, run_id, model_id, experiment_id, path, size, sha256, stored_at,
                event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (store_path) DO UPDATE SET
               size = excluded.size, sha256 = excluded.sha256, stored_at = excluded.stored_at,
               event_id = excluded.event_id""",
        payload.path,
        payload.run_id,
        payload.model_id,
        owner.experiment_id,
        owner.path,
        payload.size,
        payload.sha256,
        millis(event.occurred_at),
        event.event_id,
    )
    return None
