"""Logged-model read queries, shaped as MLflow's LoggedModel JSON ({info, data})."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg

from services.store.tracking import metric_value

_COLUMNS = (
    "model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
    "last_updated_timestamp_ms, model_type, source_run_id, status, status_message, "
    "lifecycle_stage"
)

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def logged_models_by_id(
    conn: Conn, model_ids: Sequence[str], *, allow_deleted: bool = False
) -> list[dict[str, Any]]:
    """Models in the order of ``model_ids``; missing (or deleted) ones are skipped."""
    ids = list(model_ids)
    rows = {
        r["model_id"]: r
        for r in await conn.fetch(
            f"SELECT {_COLUMNS} FROM logged_models WHERE model_id = ANY($1::text[])", ids
        )
    }
    tags: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in await conn.fetch(
        "SELECT model_id, key, value FROM logged_model_tags WHERE model_id = ANY($1::text[]) "
        "ORDER BY model_id, key",
        ids,
    ):
        tags[r[0]].append({"key": r[1], "value": r[2]})
    params: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in await conn.fetch(
        "SELECT model_id, key, value FROM logged_model_params WHERE model_id = ANY($1::text[]) "
        "ORDER BY model_id, key",
        ids,
    ):
        params[r[0]].append({"key": r[1], "value": r[2]})
    metrics: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in await conn.fetch(
        "SELECT m.model_id, k.key, m.value, m.timestamp, m.step, r.run_id, m.dataset_name, "
        "m.dataset_digest FROM metrics m JOIN metric_keys k USING (key_id) "
        "JOIN runs r USING (run_key) WHERE m.model_id = ANY($1::text[]) "
        "ORDER BY m.model_id, k.key, m.timestamp, m.step",
        ids,
    ):
        metric: dict[str, Any] = {
            "key": r[1],
            "value": metric_value(r[2]),
            "timestamp": r[3],
            "step": r[4],
            "run_id": r[5],
            "model_id": r[0],
        }
        if r[6] is not None:
            metric["dataset_name"] = r[6]
        if r[7] is not None:
            metric["dataset_digest"] = r[7]
        metrics[r[0]].append(metric)
    models = []
    for model_id in ids:
        row = rows.get(model_id)
        if row is None or (row["lifecycle_stage"] == "deleted" and not allow_deleted):
            continue
        info: dict[str, Any] = {
            "model_id": model_id,
            "experiment_id": str(row["experiment_id"]),
            "name": row["name"],
            "artifact_uri": row["artifact_location"],
            "creation_timestamp_ms": row["creation_timestamp_ms"],
            "last_updated_timestamp_ms": row["last_updated_timestamp_ms"],
            "status": row["status"],
        }
        for optional in ("model_type", "source_run_id", "status_message"):
            if row[optional] is not None:
                info[optional] = row[optional]
        if tags[model_id]:
            info["tags"] = tags[model_id]
        data: dict[str, Any] = {}
        if params[model_id]:
            data["params"] = params[model_id]
        if metrics[model_id]:
            data["metrics"] = metrics[model_id]
        models.append({"info": info, "data": data})
    return models


async def logged_model(
    conn: Conn, model_id: str, *, allow_deleted: bool = False
) -> dict[str, Any] | None:
    found = await logged_models_by_id(conn, [model_id], allow_deleted=allow_deleted)
    return found[0] if found else None
