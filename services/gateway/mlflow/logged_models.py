"""MLflow 3 logged models: create, get, finalize, tags, params, delete, search."""

from __future__ import annotations

import time
import uuid

from starlette.requests import Request
from starlette.responses import Response

from schemas import (
    LoggedModelCreated,
    LoggedModelDeleted,
    LoggedModelFinalized,
    LoggedModelParamsLogged,
    LoggedModelTagDeleted,
    LoggedModelTagsSet,
    Param,
    Tag,
)
from services.gateway import validation
from services.gateway.errors import MlflowError
from services.gateway.mlflow import messages
from services.gateway.mlflow.experiments import experiment_number, not_found
from services.gateway.mlflow.names import random_run_name
from services.gateway.mlflow.searching import paged_response, search_page
from services.gateway.requests import read_request
from services.gateway.responses import empty_response, json_response
from services.gateway.writes import node_of, write
from services.search.logged_models import LoggedModelSearch, compile_logged_model_search
from services.store import logged_models, tracking

MODELS_FOLDER = "models"


def model_not_found(model_id: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model_id}' not found.")


async def _model_json(request: Request, model_id: str, allow_deleted: bool = False) -> object:
    found = await logged_models.logged_model(
        node_of(request).database.pool, model_id, allow_deleted=allow_deleted
    )
    if found is None:
        raise model_not_found(model_id)
    return found


def _tags(raw: list[dict[str, str]]) -> list[Tag]:
    return [Tag(key=t["key"], value=t.get("value", "")) for t in raw]


def _params(raw: list[dict[str, str]]) -> list[Param]:
    return [Param(key=p["key"], value=p.get("value", "")) for p in raw]


async def create(request: Request) -> Response:
    body = await read_request(request, messages.CREATE_LOGGED_MODEL)
    name = body.get("name") or None
    validation.validate_logged_model_name(name)
    number = experiment_number(body["experiment_id"])
    experiment = await tracking.experiment(node_of(request).database.pool, number)
    if experiment is None:
        raise not_found(number)
    model_id = f"m-{uuid.uuid4().hex}"
    location = str(experiment["artifact_location"]).rstrip("/")
    await write(
        request,
        LoggedModelCreated(
            model_id=model_id,
            experiment_id=str(number),
            name=name or random_run_name(),
            artifact_location=f"{location}/{MODELS_FOLDER}/{model_id}/artifacts",
            source_run_id=body.get("source_run_id") or None,
            model_type=body.get("model_type") or None,
            creation_time=int(time.time() * 1000),
            params=_params(body.get("params", [])),
            tags=_tags(body.get("tags", [])),
        ),
    )
    return json_response({"model": await _model_json(request, model_id)})


async def get(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    allow_deleted = request.query_params.get("allow_deleted", "false").lower() == "true"
    return json_response({"model": await _model_json(request, model_id, allow_deleted)})


async def finalize(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    body = await read_request(request, messages.FINALIZE_LOGGED_MODEL)
    status = body["status"]
    if status == "LOGGED_MODEL_STATUS_UNSPECIFIED":
        raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid logged model status: {status}")
    await write(request, LoggedModelFinalized(model_id=model_id, status=status))
    return json_response({"model": await _model_json(request, model_id)})


async def delete(request: Request) -> Response:
    await write(request, LoggedModelDeleted(model_id=request.path_params["model_id"]))
    return empty_response()


async def set_tags(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    body = await read_request(request, messages.SET_LOGGED_MODEL_TAGS)
    tags = _tags(body.get("tags", []))
    if tags:
        await write(request, LoggedModelTagsSet(model_id=model_id, tags=tags))
    elif await logged_models.logged_model(node_of(request).database.pool, model_id) is None:
        raise model_not_found(model_id)
    return empty_response()


async def delete_tag(request: Request) -> Response:
    await write(
        request,
        LoggedModelTagDeleted(
            model_id=request.path_params["model_id"], key=request.path_params["tag_key"]
        ),
    )
    return empty_response()


async def log_params(request: Request) -> Response:
    model_id = request.path_params["model_id"]
    body = await read_request(request, messages.LOG_LOGGED_MODEL_PARAMS)
    params = _params(body.get("params", []))
    if params:
        await write(request, LoggedModelParamsLogged(model_id=model_id, params=params))
    return empty_response()


async def search(request: Request) -> Response:
    body = await read_request(request, messages.SEARCH_LOGGED_MODELS)
    experiment_ids = [experiment_number(e) for e in body["experiment_ids"]]
    page, token = await search_page(
        request,
        lambda: compile_logged_model_search(
            LoggedModelSearch(
                experiment_ids=experiment_ids,
                filter=body.get("filter", ""),
                order_by=body.get("order_by", []),
                datasets=body.get("datasets", []),
                max_results=body.get("max_results"),
                page_token=body.get("page_token") or None,
            )
        ),
    )
    found = await logged_models.logged_models_by_id(
        node_of(request).database.pool, [r["model_id"] for r in page]
    )
    return paged_response("models", found, token)


ROUTES = [
    ("POST", "logged-models", create),
    ("POST", "logged-models/search", search),
    ("GET", "logged-models/{model_id}", get),
    ("PATCH", "logged-models/{model_id}", finalize),
    ("DELETE", "logged-models/{model_id}", delete),
    ("PATCH", "logged-models/{model_id}/tags", set_tags),
    ("DELETE", "logged-models/{model_id}/tags/{tag_key:path}", delete_tag),
    ("POST", "logged-models/{model_id}/params", log_params),
]
