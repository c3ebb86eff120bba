"""MLflow's model registry API: registered models, versions, stages, aliases and tags.

The gateway checks what needs no state (names, versions, alias syntax, source shapes); every
decision that needs state is made by the registry domain in the projector (services/registry).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schemas import (
    LoggedModelTagsSet,
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagDeleted,
    ModelVersionTagSet,
    ModelVersionUpdated,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagSet,
    RegisteredModelUpdated,
    Tag,
)
from services.gateway import validation
from services.gateway.errors import MlflowError
from services.gateway.mlflow import messages
from services.gateway.mlflow.searching import paged_response
from services.gateway.mlflow.sources import check_source, download_uri
from services.gateway.requests import read_request
from services.gateway.responses import empty_response, json_response
from services.gateway.writes import node_of, write
from services.search.errors import SearchError
from services.store import logged_models
from services.store import registry as reads

MODEL_VERSIONS_TAG = "mlflow.modelVersions"

RegistrySearch = Callable[..., Awaitable[tuple[list[Any], str | None]]]


def model_not_found(name: str) -> MlflowError:
    return MlflowError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")


def version_not_found(name: str, version: int | str) -> MlflowError:
    return MlflowError(
        "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={version}) not found"
    )


async def _model(request: Request, name: str) -> dict[str, Any]:
    found = await reads.registered_model(node_of(request).database.pool, name)
    if found is None:
        raise model_not_found(name)
    return found


async def _version(request: Request, name: str, version: int) -> dict[str, Any]:
    found = await reads.model_version(node_of(request).database.pool, name, version)
    if found is None:
        raise version_not_found(name, version)
    return found


def _tags(raw: list[dict[str, str]]) -> list[Tag]:
    return [Tag(key=t["key"], value=t.get("value", "")) for t in raw]


# ---- registered models ----


async def create_model(request: Request) -> Response:
    body = await read_request(request, messages.CREATE_REGISTERED_MODEL)
    name = body["name"]
    validation.validate_model_name(name)
    tags = _tags(body.get("tags", []))
    for tag in tags:
        validation.validate_registered_model_tag(tag.key, tag.value)
    await write(
        request,
        RegisteredModelCreated(name=name, description=body.get("description"), tags=tags),
    )
    return json_response({"registered_model": await _model(request, name)})


async def get_model(request: Request) -> Response:
    body = await read_request(request, messages.GET_REGISTERED_MODEL)
    validation.validate_model_name(body["name"])
    return json_response({"registered_model": await _model(request, body["name"])})


async def rename_model(request: Request) -> Response:
    body = await read_request(request, messages.RENAME_REGISTERED_MODEL)
    validation.validate_model_name(body["name"])
    validation.validate_model_renaming(body["new_name"])
    await write(request, RegisteredModelRenamed(name=body["name"], new_name=body["new_name"]))
    return json_response({"registered_model": await _model(request, body["new_name"])})


async def update_model(request: Request) -> Response:
    body = await read_request(request, messages.UPDATE_REGISTERED_MODEL)
    validation.validate_model_name(body["name"])
    await write(
        request, RegisteredModelUpdated(name=body["name"], description=body.get("description"))
    )
    return json_response({"registered_model": await _model(request, body["name"])})


async def delete_model(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_REGISTERED_MODEL)
    validation.validate_model_name(body["name"])
    await write(request, RegisteredModelDeleted(name=body["name"]))
    return empty_response()


async def search_models(request: Request) -> Response:
    body = await read_request(request, messages.SEARCH_REGISTERED_MODELS)
    max_results = body.get("max_results", 100)
    validation.validate_registered_model_search_max_results(max_results)
    return await _search(
        request, reads.search_registered_models, body, max_results, "registered_models"
    )


async def _search(
    request: Request, search: RegistrySearch, body: dict[str, Any], max_results: int, field: str
) -> Response:
    try:
        items, token = await search(
            node_of(request).database.pool,
            body.get("filter", ""),
            max_results,
            list(body.get("order_by", [])),
            body.get("page_token") or None,
        )
    except SearchError as err:
        raise MlflowError("INVALID_PARAMETER_VALUE", err.message) from err
    return paged_response(field, items, token)


async def latest_versions(request: Request) -> Response:
    body = await read_request(request, messages.GET_LATEST_VERSIONS)
    name = body["name"]
    validation.validate_model_name(name)
    found = await reads.latest_versions(
        node_of(request).database.pool, name, list(body.get("stages", []))
    )
    return json_response({"model_versions": found} if found else {})


async def set_model_tag(request: Request) -> Response:
    body = await read_request(request, messages.SET_REGISTERED_MODEL_TAG)
    validation.validate_model_name(body["name"])
    value = body.get("value", "")
    validation.validate_registered_model_tag(body["key"], value)
    await write(request, RegisteredModelTagSet(name=body["name"], key=body["key"], value=value))
    return empty_response()


async def delete_model_tag(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_REGISTERED_MODEL_TAG)
    validation.validate_model_name(body["name"])
    validation.validate_tag_name(body["key"])
    await write(request, RegisteredModelTagDeleted(name=body["name"], key=body["key"]))
    return empty_response()


# ---- model versions ----


async def create_version(request: Request) -> Response:
    body = await read_request(request, messages.CREATE_MODEL_VERSION)
    name = body["name"]
    validation.validate_model_name(name)
    tags = _tags(body.get("tags", []))
    for tag in tags:
        validation.validate_model_version_tag(tag.key, tag.value)
    pool = node_of(request).database.pool
    source, run_id, model_id = await check_source(
        pool, body["source"], body.get("run_id") or None, body.get("model_id") or None
    )
    verdicts = await write(
        request,
        ModelVersionCreated(
            name=name,
            source=source,
            run_id=run_id,
            run_link=body.get("run_link") or None,
            # MLflow's handler passes the message's field on: an absent description is "".
            description=body.get("description") or "",
            model_id=model_id,
            tags=tags,
        ),
    )
    version = int((verdicts[0].outcome or {})["version"])
    if model_id:
        await _record_version_on_model(request, model_id, name, version)
    return json_response({"model_version": await _version(request, name, version)})


async def _record_version_on_model(
    request: Request, model_id: str, name: str, version: int
) -> None:
    """MLflow's server lists a logged model's registrations in its mlflow.modelVersions tag."""
    model = await logged_models.logged_model(node_of(request).database.pool, model_id)
    if model is None:
        return
    tags = {t["key"]: t["value"] for t in model["info"].get("tags", [])}
    entries: list[dict[str, Any]] = []
    if tags.get(MODEL_VERSIONS_TAG):
        try:
            entries = list(json.loads(tags[MODEL_VERSIONS_TAG]))
        except (ValueError, TypeError):
            entries = []
    entry = {"name": name, "version": version}
    if entry not in entries:
        entries.append(entry)
    await write(
        request,
        LoggedModelTagsSet(
            model_id=model_id, tags=[Tag(key=MODEL_VERSIONS_TAG, value=json.dumps(entries))]
        ),
    )


async def get_version(request: Request) -> Response:
    body = await read_request(request, messages.GET_MODEL_VERSION)
    validation.validate_model_name(body["name"])
    version = validation.validate_model_version(body["version"])
    return json_response({"model_version": await _version(request, body["name"], version)})


async def update_version(request: Request) -> Response:
    body = await read_request(request, messages.UPDATE_MODEL_VERSION)
    validation.validate_model_name(body["name"])
    version = validation.validate_model_version(body["version"])
    await write(
        request,
        ModelVersionUpdated(
            name=body["name"], version=version, description=body.get("description")
        ),
    )
    return json_response({"model_version": await _version(request, body["name"], version)})


async def transition_stage(request: Request) -> Response:
    body = await read_request(request, messages.TRANSITION_STAGE)
    validation.validate_model_name(body["name"])
    version = validation.validate_model_version(body["version"])
    await write(
        request,
        ModelVersionStageTransitioned(
            name=body["name"],
            version=version,
            stage=body["stage"],
            archive_existing_versions=bool(body.get("archive_existing_versions", False)),
        ),
    )
    return json_response({"model_version": await _version(request, body["name"], version)})


async def delete_version(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_MODEL_VERSION)
    validation.validate_model_name(body["name"])
    version = validation.validate_model_version(body["version"])
    await write(request, ModelVersionDeleted(name=body["name"], version=version))
    return empty_response()


async def get_download_uri(request: Request) -> Response:
    body = await read_request(request, messages.GET_MODEL_VERSION_DOWNLOAD_URI)
    name = body.get("name", "")
    validation.validate_model_name(name)
    version = validation.validate_model_version(body.get("version", ""))
    found = await _version(request, name, version)
    uri = await download_uri(node_of(request).database.pool, found)
    return json_response({"artifact_uri": uri})


async def search_versions(request: Request) -> Response:
    body = await read_request(request, messages.SEARCH_MODEL_VERSIONS)
    max_results = body.get("max_results", 200_000)
    validation.validate_model_version_search_max_results(max_results)
    return await _search(request, reads.search_model_versions, body, max_results, "model_versions")


async def set_version_tag(request: Request) -> Response:
    body = await read_request(request, messages.SET_MODEL_VERSION_TAG)
    validation.validate_model_name(body["name"])
    version = validation.validate_model_version(body["version"])
    value = body.get("value", "")
    validation.validate_model_version_tag(body["key"], value)
    await write(
        request,
        ModelVersionTagSet(name=body["name"], version=version, key=body["key"], value=value),
    )
    return empty_response()


async def delete_version_tag(request: Request) -> Response:
    body = await read_request(request, messages.DELETE_MODEL_VERSION_TAG)
    validation.validate_model_name(body["name"])
    version = validation.validate_model_version(body["version"])
    validation.validate_tag_name(body["key"])
    await write(
        request, ModelVersionTagDeleted(name=body["name"], version=version, key=body["key"])
    )
    return empty_response()


# ---- aliases ----


async def set_alias(request: Request) -> Response:
    body = await read_request(request, messages.SET_ALIAS)
    validation.validate_model_name(body["name"])
    validation.validate_model_alias_name(body["alias"])
    validation.validate_model_alias_name_reserved(body["alias"])
    version = validation.validate_model_version(body["version"])
    await write(request, ModelAliasSet(name=body["name"], alias=body["alias"], version=version))
    return empty_response()


async def delete_alias(request: Request) -> Response:
    body = await read_request(request, messages.ALIAS)
    validation.validate_model_name(body["name"])
    validation.validate_model_alias_name(body["alias"])
    await write(request, ModelAliasDeleted(name=body["name"], alias=body["alias"]))
    return empty_response()


async def get_by_alias(request: Request) -> Response:
    body = await read_request(request, messages.ALIAS)
    name, alias = body["name"], body["alias"]
    validation.validate_model_name(name)
    validation.validate_model_alias_name(alias)
    found = await reads.model_version_by_alias(node_of(request).database.pool, name, alias)
    return json_response({"model_version": found})


ROUTES = [
    ("POST", "registered-models/create", create_model),
    ("GET", "registered-models/get", get_model),
    ("POST", "registered-models/rename", rename_model),
    ("PATCH", "registered-models/update", update_model),
    ("DELETE", "registered-models/delete", delete_model),
    ("GET", "registered-models/search", search_models),
    ("POST", "registered-models/get-latest-versions", latest_versions),
    ("GET", "registered-models/get-latest-versions", latest_versions),
    ("POST", "registered-models/set-tag", set_model_tag),
    ("DELETE", "registered-models/delete-tag", delete_model_tag),
    ("POST", "registered-models/alias", set_alias),
    ("DELETE", "registered-models/alias", delete_alias),
    ("GET", "registered-models/alias", get_by_alias),
    ("POST", "model-versions/create", create_version),
    ("GET", "model-versions/get", get_version),
    ("PATCH", "model-versions/update", update_version),
    ("POST", "model-versions/transition-stage", transition_stage),
    ("DELETE", "model-versions/delete", delete_version),
    ("GET", "model-versions/get-download-uri", get_download_uri),
    ("GET", "model-versions/search", search_versions),
    ("POST", "model-versions/set-tag", set_version_tag),
    ("DELETE", "model-versions/delete-tag", delete_version_tag),
]
