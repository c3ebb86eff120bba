"""Retention: an `artifacts.collected` event marks the files a gc sweep deleted.

The rows stay in `artifact_files` (the record of what was stored), with the time and the event
that collected them, so a run's verification does not report them as missing. A path a sweep
deleted that was never recorded has no row to mark; the event in the audit log still names it.
"""

from __future__ import annotations

import asyncpg

from schemas import ArtifactsCollected, Envelope
from services.artifacts.layout import owner_of
from services.artifacts.paths import UnsafePath, check_key
from services.projector.handlers.common import millis
from services.projector.projections import projects
from services.projector.verdict import Rejection, Verdict


@projects("artifacts.collected")
async def collected(conn: asyncpg.Connection, event: Envelope) -> Verdict | None:
    payload = event.payload
    assert isinstance(payload, ArtifactsCollected)
    for path in payload.paths:
        try:
            owner = owner_of(check_key(path))
        except UnsafePath as err:
            raise Rejection("INVALID_PARAMETER_VALUE", err.message) from None
        if owner is None:
            raise Rejection(
                "INVALID_PARAMETER_VALUE",
                f"Artifact path '{path}' is not under a run's or logged model's artifact root",
            )
    await conn.execute(
        """UPDATE artifact_files SET collected_at = $2, collected_by = $3
           WHERE store_path = ANY($1::text[]) AND collected_at IS NULL""",
        payload.paths,
        millis(event.occurred_at),
        event.event_id,
    )
    return None
