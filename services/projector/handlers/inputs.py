"""Run inputs (datasets, models) and outputs (logged models)."""

from __future__ import annotations

import asyncpg

from schemas import Envelope, InputsLogged, OutputsLogged
from services.projector.handlers.common import active_run
from services.projector.projections import projects


@projects("inputs.logged")
async def inputs_logged(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, InputsLogged)
    run = await active_run(conn, payload.run_id)
    seen: set[tuple[str, str]] = set()
    for item in payload.datasets:
        dataset = item.dataset
        identity = (dataset.name, dataset.digest)
        if identity in seen:  # the first of two inputs with the same name and digest wins
            continue
        seen.add(identity)
        dataset_key = await conn.fetchval(
            "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, "
            "profile) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (experiment_id, name, digest) DO UPDATE SET name = EXCLUDED.name "
            "RETURNING dataset_key",
            run.experiment_id,
            dataset.name,
            dataset.digest,
            dataset.source_type,
            dataset.source,
            dataset.schema_,
            dataset.profile,
        )
        await conn.execute(
            "INSERT INTO run_dataset_inputs (run_key, dataset_key, tags) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            run.run_key,
            dataset_key,
            [{"key": t.key, "value": t.value} for t in item.tags],
        )
    if payload.models:
        await conn.executemany(
            "INSERT INTO run_model_inputs (run_key, model_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING",
            [(run.run_key, model.model_id) for model in payload.models],
        )


@projects("outputs.logged")
async def outputs_logged(conn: asyncpg.Connection, event: Envelope) -> None:
    payload = event.payload
    assert isinstance(payload, OutputsLogged)
    run = await active_run(conn, payload.run_id)
    await conn.executemany(
        "INSERT INTO run_model_outputs (run_key, model_id, step) VALUES ($1, $2, $3) "
        "ON CONFLICT (run_key, model_id) DO UPDATE SET step = EXCLUDED.step",
        [(run.run_key, model.model_id, model.step) for model in payload.models],
    )
