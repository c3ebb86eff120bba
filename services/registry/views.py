"""Registered models and versions as MLflow's REST API writes them (proto JSON, snake_case).

``version`` is a string; unset fields are omitted, as are empty lists; a registered model's
description is omitted when empty (MLflow tests it for truth), a version's only when unset.
Beyond MLflow's SQL store, which leaves them empty, ``user_id`` (the actor who created it) and a
version's ``model_id`` are filled in; tags and aliases come sorted by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.registry.state import ModelVersion, RegisteredModel, latest_versions


def model_version_json(name: str, version: ModelVersion, aliases: Sequence[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "version": str(version.version),
        "creation_timestamp": version.creation_timestamp,
        "last_updated_timestamp": version.last_updated_timestamp,
    }
    if version.description is not None:
        body["description"] = version.description
    if version.user_id is not None:
        body["user_id"] = version.user_id
    body["current_stage"] = version.current_stage
    body["source"] = version.source
    if version.run_id is not None:
        body["run_id"] = version.run_id
    if version.run_link is not None:
        body["run_link"] = version.run_link
    body["status"] = version.status
    if version.tags:
        body["tags"] = [{"key": k, "value": version.tags[k]} for k in sorted(version.tags)]
    if aliases:
        body["aliases"] = list(aliases)
    if version.model_id is not None:
        body["model_id"] = version.model_id
    return body


def version_json(model: RegisteredModel, number: int) -> dict[str, Any]:
    """A version of ``model`` with its aliases."""
    return model_version_json(model.name, model.versions[number], model.aliases_of(number))


def registered_model_json(
    model: RegisteredModel, latest: Sequence[ModelVersion] | None = None
) -> dict[str, Any]:
    """``latest`` are the model's latest versions (computed from its versions when not given,
    for a model loaded without them)."""
    if latest is None:
        latest = latest_versions(model)
    body: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": model.creation_timestamp,
    }
    if model.last_updated_timestamp:
        body["last_updated_timestamp"] = model.last_updated_timestamp
    if model.user_id is not None:
        body["user_id"] = model.user_id
    if model.description:
        body["description"] = model.description
    if latest:
        # as MLflow's store: a registered model's latest versions carry no aliases
        body["latest_versions"] = [model_version_json(model.name, v, ()) for v in latest]
    if model.tags:
        body["tags"] = [{"key": k, "value": model.tags[k]} for k in sorted(model.tags)]
    if model.aliases:
        body["aliases"] = [
            {"alias": alias, "version": str(model.aliases[alias])}
            for alias in sorted(model.aliases)
        ]
    return body
