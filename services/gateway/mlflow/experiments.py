"""Experiments: create, get, get-by-name, search, update, delete, restore, tags."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from schemas import (
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagSet,
    Tag,
)
from services.gateway import validation
from services.gateway.errors import MlflowError
from services.gateway.mlflow import messages
from services.gateway.mlflow.searching import paged_response, search_page
from services.gateway.requests import read_request
from services.gateway.responses import empty_response, json_response
from services.gateway.writes import node_of, write
from services.search.experiments import ExperimentSearch, compile_experiment_search
from services.store import tracking


def experiment_number(experiment_id: str) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer.",
        ) from None


def not_found(experiment_id: str | int) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={experiment_id} exists")


async def create(request: Request) -> Response:
    body = await read_request(request, messages.CREATE_EXPERIMENT)
    name = body["name"]
    validation.validate_experiment_name(name)
    tags = [Tag(key=t["key"], value=t.get("value", "")) for t in body.get("tags", [])]
    for tag in tags:
        validation.validate_experiment_tag(tag.key, tag.value)
    node = node_of(request)
    if await tracking.experiment_id_by_name(node.database.pool, name) is not None:
        # Decided again by the projector; answering here saves a round trip through the log.
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment(name={name}) already exists.")
    number = await node.database.pool.fetchval("SELECT nextval('ledgerflow.experiment_ids')")
    location = body.get("artifact_location") or node.artifact_location(str(number))
    validation.validate_experiment_artifact_location(location)
    validation.validate_experiment_artifact_location_length(location)
    await write(
        request,
        ExperimentCreated(
            experiment_id=str(number), name=name, artifact_location=location, tags=tags
        ),
    )
    return json_response({"experiment_id": str(number)})


async def get(request: Request) -> Response:
    body = await read_request(request, messages.GET_EXPERIMENT)
    number = experiment_number(body["experiment_id"])
    found = await tracking.experiment(node_of(request).database.pool, number)
    if found is None:
        raise not_found(number)
    return json_response({"experiment": found})


async def get_by_name(request: Request) -> Response:
    body = await read_request(request, messages.GET_EXPERIMENT_BY_NAME)
    name = body["experiment_name"]
    pool = node_of(request).database.pool
    number = await tracking.experiment_id_by_name(pool, name)
    found = await tracking.experiment(pool, number) if number is not None else None
    if found is None:
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{name}'"
        )
    return json_response({"experiment": found})


async def search(request: Request) -> Response:
    body = await read_request(request, messages.SEARCH_EXPERIMENTS)
    page, token = await search_page(
        request,
        lambda: compile_experiment_search(
            ExperimentSearch(
                filter=body.get("filter", ""),
                order_by=list(body.get("order_by", [])),
                view_type=body.get("view_type", "ACTIVE_ONLY"),
                max_results=body.get("max_results", 1000),
                page_token=body.get("page_token") or None,
            )
        ),
    )
    pool = node_of(request).database.pool
    found = await tracking.experiments_by_id(pool, [r["experiment_id"] for r in page])
    return paged_response("experiments", found, token)


async def update(request: Request) -> Response:
    body = await read_request(request, messages.UPDATE_EXPERIMENT)
    experiment_id = body["experiment_id"]
    new_name = body.get("new_name")
    if new_name:
        validation.validate_experiment_name(new_name)
        experiment_number(experiment_id)
        await write(request, ExperimentRenamed(experiment_id=experiment_id, new_name=new_name))
    return empty_response()


async def delete(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_EXPERIMENT)
    experiment_number(body["experiment_id"])
    await write(request, ExperimentDeleted(experiment_id=body["experiment_id"]))
    return empty_response()


async def restore(request: Request) -> Response:
    body = await read_request(request, messages.RESTORE_EXPERIMENT)
    experiment_number(body["experiment_id"])
    await write(request, ExperimentRestored(experiment_id=body["experiment_id"]))
    return empty_response()


async def set_tag(request: Request) -> Response:
    body = await read_request(request, messages.SET_EXPERIMENT_TAG)
    key, value = body["key"], body.get("value", "")
    validation.validate_experiment_tag(key, value)
    experiment_number(body["experiment_id"])
    await write(
        request, ExperimentTagSet(experiment_id=body["experiment_id"], key=key, value=value)
    )
    return empty_response()


async def delete_tag(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_EXPERIMENT_TAG)
    experiment_number(body["experiment_id"])
    await write(request, ExperimentTagDeleted(experiment_id=body["experiment_id"], key=body["key"]))
    return empty_response()


ROUTES = [
    ("POST", "experiments/create", create),
    ("GET", "experiments/get", get),
    ("GET", "experiments/get-by-name", get_by_name),
    ("POST", "experiments/search", search),
    ("GET", "experiments/search", search),
    ("POST", "experiments/update", update),
    ("POST", "experiments/delete", delete),
    ("POST", "experiments/restore", restore),
    ("POST", "experiments/set-experiment-tag", set_tag),
    ("POST", "experiments/delete-experiment-tag", delete_tag),
]
