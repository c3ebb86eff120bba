"""Runs: create, get, update, delete, restore, search, and everything logged to a run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schemas import (
    Dataset,
    DatasetInput,
    InputsLogged,
    MetricsLogged,
    ModelInput,
    ModelOutput,
    OutputsLogged,
    Param,
    ParamsLogged,
    Payload,
    RunCreated,
    RunDeleted,
    RunRestored,
    RunTagDeleted,
    RunTagsSet,
    RunUpdated,
    Tag,
)
from services.gateway import validation
from services.gateway.errors import MlflowError
from services.gateway.mlflow import messages
from services.gateway.mlflow.experiments import experiment_number, not_found
from services.gateway.mlflow.names import random_run_name
from services.gateway.mlflow.searching import paged_json_response, search_page
from services.gateway.requests import read_request, request_fields
from services.gateway.responses import empty_response, json_response, raw_json_response
from services.gateway.writes import Rephrase, events_for, node_of, submit, write
from services.projector.verdict import Verdict
from services.search.runs import RunSearch, compile_run_search
from services.store import tracking

RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"


def run_not_found(run_id: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found")


async def _run_json(request: Request, run_id: str) -> str:
    """The run as MLflow's JSON text (rendered by PostgreSQL)."""
    pool = node_of(request).database.pool
    key = await tracking.run_key_of(pool, run_id)
    run = await tracking.runs_json(pool, [key]) if key is not None else "[]"
    if run == "[]":
        raise run_not_found(run_id)
    return run[1:-1]


async def create(request: Request) -> Response:
    body = await read_request(request, messages.CREATE_RUN)
    experiment_id = body.get("experiment_id") or "0"
    number = experiment_number(experiment_id)
    tags = [Tag(key=t["key"], value=t.get("value", "")) for t in body.get("tags", [])]
    tags = [Tag(key=t.key, value=validation.validate_tag(t.key, t.value) or "") for t in tags]
    tag_name = next((t.value for t in tags if t.key == RUN_NAME_TAG), None)
    run_name = body.get("run_name") or None
    if run_name and tag_name and run_name != tag_name:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
            f"different values (run_name='{run_name}', mlflow.runName='{tag_name}').",
        )
    run_name = run_name or tag_name or random_run_name()
    if tag_name is None:
        tags.append(Tag(key=RUN_NAME_TAG, value=run_name))
    experiment = await tracking.experiment(node_of(request).database.pool, number)
    if experiment is None:
        raise not_found(number)
    run_id = uuid.uuid4().hex
    user_id = body.get("user_id", "")
    await write(
        request,
        RunCreated(
            run_id=run_id,
            experiment_id=str(number),
            user_id=user_id,
            run_name=run_name,
            start_time=body.get("start_time", int(time.time() * 1000)),
            artifact_uri=f"{str(experiment['artifact_location']).rstrip('/')}/{run_id}/artifacts",
            tags=tags,
        ),
        self_reported=next((t.value for t in tags if t.key == USER_TAG), None) or user_id or None,
    )
    return raw_json_response(f'{{"run":{await _run_json(request, run_id)}}}')


async def get(request: Request) -> Response:
    body = await read_request(request, messages.GET_RUN)
    return raw_json_response(f'{{"run":{await _run_json(request, body["run_id"])}}}')


async def update(request: Request) -> Response:
    body = await read_request(request, messages.UPDATE_RUN)
    run_id = body["run_id"]
    await write(
        request,
        RunUpdated(
            run_id=run_id,
            status=body.get("status"),
            end_time=body.get("end_time"),
            run_name=body.get("run_name") or None,
        ),
    )
    row = await tracking.run_row(node_of(request).database.pool, run_id)
    if row is None:
        raise run_not_found(run_id)
    return json_response({"run_info": tracking.run_info(row)})


async def delete(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_RUN)
    await write(request, RunDeleted(run_id=body["run_id"]))
    return empty_response()


async def restore(request: Request) -> Response:
    body = await read_request(request, messages.RESTORE_RUN)
    await write(request, RunRestored(run_id=body["run_id"]))
    return empty_response()


async def search(request: Request) -> Response:
    body = await read_request(request, messages.SEARCH_RUNS)
    experiment_ids = [experiment_number(e) for e in body.get("experiment_ids", [])]
    page, token = await search_page(
        request,
        lambda: compile_run_search(
            RunSearch(
                experiment_ids=experiment_ids,
                filter=body.get("filter", ""),
                order_by=list(body.get("order_by", [])),
                view_type=body.get("run_view_type", "ACTIVE_ONLY"),
                max_results=body.get("max_results", 1000),
                page_token=body.get("page_token") or None,
            )
        ),
    )
    runs = await tracking.runs_json(node_of(request).database.pool, [r["run_key"] for r in page])
    return paged_json_response("runs", runs, token)


def _param_rephrase(key: str, value: str, run_id: str) -> Rephrase:
    def rephrase(verdict: Verdict) -> MlflowError | None:
        conflicts = (verdict.outcome or {}).get("conflicts")
        if not conflicts:
            return None
        old = conflicts[0]["old_value"]
        return MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Changing param values is not allowed. Param with key='{key}' was already"
            f" logged with value='{old}' for run ID='{run_id}'. Attempted logging new value"
            f" '{value}'.",
        )

    return rephrase


async def log_parameter(request: Request) -> Response:
    body = await read_request(request, messages.LOG_PARAM)
    run_id, key = body["run_id"], body["key"]
    value = validation.validate_param(key, body.get("value", "")) or ""
    await write(
        request,
        ParamsLogged(run_id=run_id, params=[Param(key=key, value=value)]),
        rephrase=_param_rephrase(key, value, run_id),
    )
    return empty_response()


def _metrics_event(run_id: str, raw: Sequence[Mapping[str, Any]]) -> MetricsLogged:
    """The metrics.logged event of metrics as read by read_request (already validated)."""
    return MetricsLogged.from_columns(
        run_id,
        keys=[m["key"] for m in raw],
        values=[m["value"] for m in raw],
        timestamps=[m["timestamp"] for m in raw],
        steps=[m.get("step", 0) for m in raw],
        model_ids=[m.get("model_id") or None for m in raw],
        dataset_names=[m.get("dataset_name") or None for m in raw],
        dataset_digests=[m.get("dataset_digest") or None for m in raw],
    )


async def log_metric(request: Request) -> Response:
    body = await read_request(request, messages.LOG_METRIC)
    validation.validate_metric(body["key"], body["value"], body["timestamp"], body.get("step", 0))
    await write(request, _metrics_event(body["run_id"], [body]))
    return empty_response()


async def set_tag(request: Request) -> Response:
    body = await read_request(request, messages.SET_TAG)
    key = body["key"]
    value = validation.validate_tag(key, body.get("value", "")) or ""
    await write(request, RunTagsSet(run_id=body["run_id"], tags=[Tag(key=key, value=value)]))
    return empty_response()


async def delete_tag(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_TAG)
    await write(request, RunTagDeleted(run_id=body["run_id"], key=body["key"]))
    return empty_response()


async def _require_active_run(request: Request, run_id: str) -> None:
    row = await tracking.run_row(node_of(request).database.pool, run_id)
    if row is None:
        raise run_not_found(run_id)
    if row["lifecycle_stage"] != "active":
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"The run {run_id} must be in the 'active' state. "
            f"Current state is {row['lifecycle_stage']}.",
        )


@dataclass(frozen=True)
class CheckedBatch:
    """A log-batch request, read and passed by every check MLflow's store makes."""

    run_id: str
    metrics: MetricsLogged | None
    params: list[Param]
    tags: list[Tag]


async def read_log_batch(request: Request) -> CheckedBatch:
    """Read and check a log-batch request; raises `MlflowError` as MLflow would."""
    fields = await request_fields(request, messages.LOG_BATCH)
    # Metrics as the mlflow client sends them are checked a column at a time; anything else
    # takes the element-wise path, which words each error as MLflow does.
    columns = validation.well_formed_metrics(fields.get("metrics"))
    body = messages.LOG_BATCH.read(fields if columns is None else {**fields, "metrics": []})
    run_id = body["run_id"]
    checked_metrics, checked_params, checked_tags = validation.validate_log_batch(
        run_id,
        body.get("metrics", []),
        body.get("params", []),
        body.get("tags", []),
        columns=columns,
    )
    metrics = None
    if columns is not None:
        metrics = MetricsLogged.from_columns(
            run_id, columns.keys, columns.values, columns.timestamps, columns.steps
        )
    elif checked_metrics:
        metrics = _metrics_event(run_id, checked_metrics)
    return CheckedBatch(
        run_id=run_id,
        metrics=metrics,
        params=[Param(key=p["key"], value=p.get("value") or "") for p in checked_params],
        tags=[Tag(key=t["key"], value=t.get("value") or "") for t in checked_tags],
    )


async def log_batch(request: Request) -> Response:
    batch = await read_log_batch(request)
    run_id = batch.run_id
    if batch.metrics is None and not batch.params and not batch.tags:
        await _require_active_run(request, run_id)
        return empty_response()
    if batch.params:
        # Params first and alone: a refused param must leave the batch's metrics and tags
        # unlogged, as MLflow's store does.
        await write(request, ParamsLogged(run_id=run_id, params=batch.params))
    payloads: list[Payload] = []
    if batch.metrics is not None:
        payloads.append(batch.metrics)
    if batch.tags:
        payloads.append(RunTagsSet(run_id=run_id, tags=batch.tags))
    if payloads:
        await submit(request, events_for(request, payloads))
    return empty_response()


async def log_inputs(request: Request) -> Response:
    body = await read_request(request, messages.LOG_INPUTS)
    run_id = body["run_id"]
    validation.validate_run_id(run_id)
    validation.validate_dataset_inputs(body.get("datasets", []))
    datasets = []
    for item in body.get("datasets", []):
        raw = item.get("dataset") or {}
        datasets.append(
            DatasetInput(
                dataset=Dataset(
                    name=raw.get("name", ""),
                    digest=raw.get("digest", ""),
                    source_type=raw.get("source_type", ""),
                    source=raw.get("source", ""),
                    schema=raw.get("schema"),
                    profile=raw.get("profile"),
                ),
                tags=[Tag(key=t["key"], value=t.get("value", "")) for t in item.get("tags", [])],
            )
        )
    models = [ModelInput(model_id=m["model_id"]) for m in body.get("models", [])]
    if not datasets and not models:
        await _require_active_run(request, run_id)
        return empty_response()
    await write(request, InputsLogged(run_id=run_id, datasets=datasets, models=models))
    return empty_response()


async def log_outputs(request: Request) -> Response:
    body = await read_request(request, messages.LOG_OUTPUTS)
    models = [ModelOutput(model_id=m["model_id"], step=m.get("step", 0)) for m in body["models"]]
    if not models:
        await _require_active_run(request, body["run_id"])
        return empty_response()
    await write(request, OutputsLogged(run_id=body["run_id"], models=models))
    return empty_response()


ROUTES = [
    ("POST", "runs/create", create),
    ("GET", "runs/get", get),
    ("POST", "runs/update", update),
    ("POST", "runs/delete", delete),
    ("POST", "runs/restore", restore),
    ("POST", "runs/search", search),
    ("POST", "runs/log-metric", log_metric),
    ("POST", "runs/log-parameter", log_parameter),
    ("POST", "runs/set-tag", set_tag),
    ("POST", "runs/delete-tag", delete_tag),
    ("POST", "runs/log-batch", log_batch),
    ("POST", "runs/log-inputs", log_inputs),
    ("POST", "runs/outputs", log_outputs),
]
