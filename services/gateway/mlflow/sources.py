"""Model-version sources: MLflow's checks on where a version comes from, and where it is stored.

A source must lie inside the run (run_id) or logged model (model_id) it names, must not climb
out of it with relative path segments, and `models:/` sources are resolved through the registry.
The storage location (get-download-uri) is resolved at read time from immutable facts: a logged
model's artifact location, a run's artifact root, or the referenced version's own location.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.gateway.errors import MlflowError
from services.registry.errors import RegistryError
from services.store import logged_models, tracking
from services.store import registry as reads


@dataclass(frozen=True)
class ModelUri:
    model_id: str | None = None
    name: str | None = None
    version: str | None = None
    stage: str | None = None
    alias: str | None = None


def _invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def _not_identified(source: str, id_name: str) -> MlflowError:
    return _invalid(
        f"Invalid model version source: '{source}'. The {id_name} request parameter must "
        "identify the resource that contains the source."
    )


def parse_model_uri(uri: str) -> ModelUri | None:
    """MLflow's `_parse_model_uri` for `models:/...`; None when the URI is not well formed."""
    parsed = urllib.parse.urlparse(uri, allow_fragments=False)
    path = parsed.path
    if parsed.scheme != "models" or not path.startswith("/") or len(path) <= 1:
        return None
    parts = path.lstrip("/").split("/")
    if len(parts) > 2 or not parts[0].strip():
        return None
    if len(parts) == 2:
        name, suffix = parts
        if not suffix.strip():
            return None
        if suffix.isdigit():
            return ModelUri(name=name, version=suffix)
        if suffix.lower() == "latest":
            return ModelUri(name=name)
        return ModelUri(name=name, stage=suffix)
    if "@" in path:
        name, _, alias = parts[0].rpartition("@")
        return ModelUri(name=name, alias=alias) if alias.strip() and name else None
    return ModelUri(model_id=parts[0])


def _iteratively_unquote(value: str) -> str:
    while (unquoted := urllib.parse.unquote_plus(value)) != value:
        value = unquoted
    return value


def _relative_paths_refused(source: str) -> None:
    message = (
        f"Invalid model version source: '{source}'. If supplying a source as an http, https, "
        "local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be "
        "provided without relative path references present. Please provide an absolute path."
    )
    unquoted = _iteratively_unquote(source)
    path = re.sub(r"/+", "/", urllib.parse.urlparse(unquoted).path.rstrip("/"))
    if "\x00" in path or any(part == ".." for part in unquoted.split("/")):
        raise _invalid(message)
    if path and posixpath.normpath(path) != path and not path.startswith("//"):
        raise _invalid(message)


def _parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    parsed = urllib.parse.urlsplit(uri)
    parts = tuple(_iteratively_unquote(p) for p in parsed.path.split("/") if p)
    return parsed.scheme.lower(), parsed.netloc.lower(), parts


def _within(source: str, root: str) -> bool:
    scheme, authority, parts = _parts(source)
    root_scheme, root_authority, root_parts = _parts(root)
    return (
        scheme == root_scheme
        and authority == root_authority
        and bool(root_parts)
        and parts[: len(root_parts)] == root_parts
    )


def _is_artifact_source(source: str) -> bool:
    scheme, _, parts = _parts(source)
    if scheme == "mlflow-artifacts":
        return True
    route = ("api", "2.0", "mlflow-artifacts", "artifacts")
    return scheme in ("http", "https") and any(
        parts[i : i + len(route)] == route for i in range(len(parts) - len(route) + 1)
    )


def _is_local(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("", "file")


async def _resolve_version(pool: asyncpg.Pool, uri: ModelUri) -> dict[str, Any] | None:
    assert uri.name is not None
    try:
        if uri.version is not None:
            return await reads.model_version(pool, uri.name, int(uri.version))
        if uri.alias is not None:
            return await reads.model_version_by_alias(pool, uri.name, uri.alias)
        stages = [uri.stage] if uri.stage else []
        found = await reads.latest_versions(pool, uri.name, stages)
    except RegistryError:
        return None
    return max(found, key=lambda v: int(v["version"])) if found else None


async def check_source(
    pool: asyncpg.Pool, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str | None]:
    """(source, run_id, model_id) as MLflow stores them, or MLflow's refusal."""
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "models":
        if parsed.netloc:
            raise _invalid(
                f"Invalid model version source: '{source}'. Registered model sources must use "
                "the active model registry."
            )
        uri = parse_model_uri(source)
        if uri is None:
            raise _not_identified(source, "model_id")
        if uri.model_id is None:
            version = await _resolve_version(pool, uri)
            if version is None:
                raise _invalid(
                    f"Unable to fetch model from model URI source artifact location '{source}'."
                )
            if (run_id is not None and run_id != (version.get("run_id") or None)) or (
                model_id is not None and model_id != (version.get("model_id") or None)
            ):
                raise _invalid(
                    f"Invalid model version source: '{source}'. The run_id and model_id request "
                    "parameters must match the referenced model version."
                )
            source = f"models:/{uri.name}/{version['version']}"
            run_id = run_id or version.get("run_id") or None
            model_id = model_id or version.get("model_id") or None
            return source, run_id, model_id
    if model_id:
        await _check_model_source(pool, source, model_id)
        model = await logged_models.logged_model(pool, model_id)
        if not run_id and model is not None:
            run_id = model["info"].get("source_run_id") or None
    else:
        await _check_run_source(pool, source, run_id)
    return source, run_id, model_id


async def _check_model_source(pool: asyncpg.Pool, source: str, model_id: str) -> None:
    if _is_local(source):
        raise _invalid(
            f"Invalid model version source: '{source}'. To use a local path as a model version "
            "source, the model_id request parameter has to be specified and the local path has "
            "to be contained within the artifact directory of the run specified by the model_id."
        )
    _relative_paths_refused(source)
    scheme = urllib.parse.urlparse(source).scheme
    if scheme == "models":
        uri = parse_model_uri(source)
        if uri is not None and uri.model_id is not None and uri.model_id == model_id:
            if await logged_models.logged_model(pool, model_id) is None:
                raise _not_identified(source, "model_id")
            return
        raise _not_identified(source, "model_id")
    if scheme == "runs":
        raise _not_identified(source, "model_id")
    if _is_artifact_source(source):
        model = await logged_models.logged_model(pool, model_id)
        if model is None or not _within(source, model["info"]["artifact_uri"]):
            raise _not_identified(source, "model_id")


async def _check_run_source(pool: asyncpg.Pool, source: str, run_id: str | None) -> None:
    if _is_local(source):
        raise _invalid(
            f"Invalid model version source: '{source}'. To use a local path as a model version "
            "source, the run_id request parameter has to be specified and the local path has to "
            "be contained within the artifact directory of the run specified by the run_id."
        )
    _relative_paths_refused(source)
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "runs":
        source_run = parsed.path.lstrip("/").split("/", 1)[0]
        if parsed.netloc or not run_id or source_run != run_id:
            raise _not_identified(source, "run_id")
        return
    if parsed.scheme == "models":
        raise _not_identified(source, "model_id")
    if _is_artifact_source(source):
        row = await tracking.run_row(pool, run_id) if run_id else None
        if row is None or not _within(source, row["artifact_uri"]):
            raise _not_identified(source, "run_id")


async def download_uri(pool: asyncpg.Pool, version: dict[str, Any], depth: int = 0) -> str:
    """Where the version's files are: MLflow's storage_location, resolved from the source."""
    source = str(version.get("source", ""))
    uri = parse_model_uri(source)
    if uri is not None and depth < 8:
        if uri.model_id is not None:
            model = await logged_models.logged_model(pool, uri.model_id, allow_deleted=True)
            if model is not None:
                return str(model["info"]["artifact_uri"])
        else:
            referenced = await _resolve_version(pool, uri)
            if referenced is not None:
                return await download_uri(pool, referenced, depth + 1)
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "runs":
        run_id, _, path = parsed.path.lstrip("/").partition("/")
        row = await tracking.run_row(pool, run_id)
        if row is not None:
            root = str(row["artifact_uri"]).rstrip("/")
            return f"{root}/{path}" if path else root
    return source
