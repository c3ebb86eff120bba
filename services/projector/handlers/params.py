"""Params: first writer wins; the same value again is a no-op; a different value is refused."""

from __future__ import annotations

import asyncpg

from schemas import Envelope, ParamsLogged
from services.projector.handlers.common import active_run
from services.projector.projections import projects
from services.projector.verdict import Rejection, Verdict


def _python_repr(conflicts: list[dict[str, str]]) -> str:
    # MLflow formats the conflicts with Python's repr of a list of dicts; so do we.
    return repr(conflicts)


@projects("params.logged")
async def logged(conn: asyncpg.Connection, event: Envelope) -> Verdict | None:
    payload = event.payload
    assert isinstance(payload, ParamsLogged)
    run = await active_run(conn, payload.run_id)
    keys = [p.key for p in payload.params]
    existing = {
        r["key"]: r["value"]
        for r in await conn.fetch(
            "SELECT key, value FROM run_params WHERE run_key = $1 AND key = ANY($2::text[])",
            run.run_key,
            keys,
        )
    }
    conflicts = [
        {"key": p.key, "old_value": existing[p.key], "new_value": p.value}
        for p in payload.params
        if p.key in existing and existing[p.key] != p.value
    ]
    if conflicts:
        raise Rejection(
            "INVALID_PARAMETER_VALUE",
            "Changing param values is not allowed. Params were already"
            f" logged='{_python_repr(conflicts)}' for run ID='{payload.run_id}'.",
            details={"conflicts": conflicts},
        )
    new = [(run.run_key, p.key, p.value) for p in payload.params if p.key not in existing]
    if new:
        await conn.executemany(
            "INSERT INTO run_params (run_key, key, value) VALUES ($1, $2, $3)", new
        )
    return None
