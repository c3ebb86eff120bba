"""Artifacts over HTTP: MLflow's proxied artifact API, the run-scoped listing, and verification.

* `/api/2.0/mlflow-artifacts/artifacts/<path>` (and `/ajax-api/...`): PUT streams the body into
  the store, GET streams a file back, DELETE removes a file or a directory; `artifacts?path=`
  lists a directory. Paths are relative to the store root and checked by `artifacts.paths`.
* `mpu/{create,complete,abort}/<path>` and `presigned/<path>`: answered 501 as MLflow does for a
  repository without multipart support; the client then falls back to a plain PUT or GET.
* `/api/2.0/mlflow/artifacts/list?run_id=&path=`: MLflow's ListArtifacts (the UI's listing).
* `/api/ledgerflow/runs/<run_id>/artifacts/verify`: recorded files vs. the store, as JSON.

Every file stored under a run's or a logged model's root becomes an `artifact.stored` event; the
PUT answers once the projector has recorded it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from services.artifacts import layout
from services.artifacts.headers import download_headers
from services.artifacts.paths import UnsafePath, artifact_key, check_key, directory_key, join_key
from services.artifacts.records import NotProxied, UnknownRun, verify_run_artifacts
from services.artifacts.store import ArtifactConflict, ArtifactEntry, ArtifactNotFound
from services.gateway.errors import MlflowError
from services.gateway.mlflow.runs import run_not_found
from services.gateway.requests import STRING, RequestSchema, is_string, read_request, required
from services.gateway.responses import empty_response, json_response
from services.gateway.writes import node_of, write
from services.store import tracking

MULTIPART_UPLOADS = False
"""Whether `mpu/*` is implemented (reported by server-info as `multipart_uploads_enabled`)."""
MULTIPART_DOWNLOADS = False
"""Whether `presigned/*` is implemented (`multipart_downloads_enabled`)."""

NO_MULTIPART_UPLOAD = "Multipart upload is not supported for the current artifact repository"
NO_MULTIPART_DOWNLOAD = "Multipart download is not supported for the current artifact repository"

LIST_PROXIED = RequestSchema(fields={"path": STRING})
LIST_RUN_ARTIFACTS = RequestSchema(
    fields={"run_id": STRING, "run_uuid": STRING, "path": STRING, "page_token": STRING},
    checks={"run_id": [is_string, required], "path": [is_string], "page_token": [is_string]},
)


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """Store and path failures as MLflow's errors."""
    try:
        yield
    except UnsafePath as err:
        raise MlflowError("INVALID_PARAMETER_VALUE", err.message) from None
    except ArtifactNotFound as err:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", str(err)) from None
    except ArtifactConflict as err:
        raise MlflowError("INVALID_PARAMETER_VALUE", str(err)) from None


def _key(request: Request) -> str:
    with _store_errors():
        return artifact_key(request.path_params["path"])


async def upload(request: Request) -> Response:
    key = _key(request)
    node = node_of(request)
    try:
        with _store_errors():
            stored = await node.artifacts.put(key, request.stream())
    except ClientDisconnect:
        raise MlflowError("BAD_REQUEST", "The upload ended before its body was complete") from None
    event = layout.stored_event(key, stored)
    if event is not None:  # files outside run and model roots are stored but not recorded
        await write(request, event)
    return empty_response()


async def download(request: Request) -> Response:
    key = _key(request)
    store = node_of(request).artifacts
    with _store_errors():
        try:
            stream = await store.get(key)
        except ArtifactNotFound:
            if await store.list(key):
                raise MlflowError(
                    "INVALID_PARAMETER_VALUE",
                    f"Artifact path refers to a directory, not a file: '{key}'",
                ) from None
            raise
    headers = download_headers(key, stream.size)
    if request.method == "HEAD":
        await stream.aclose()
        return Response(headers=headers)
    return StreamingResponse(
        stream.chunks(), headers=headers, background=BackgroundTask(stream.aclose)
    )


def _file_json(path: str, entry: ArtifactEntry) -> dict[str, object]:
    found: dict[str, object] = {"path": path, "is_dir": entry.is_dir}
    if entry.size is not None:
        found["file_size"] = entry.size
    return found


async def list_proxied(request: Request) -> Response:
    body = await read_request(request, LIST_PROXIED)
    with _store_errors():
        directory = directory_key(body.get("path"))
        entries = await node_of(request).artifacts.list(directory)
    # Basenames, as MLflow's server answers; listing a file finds nothing, so `files` is absent.
    files = [_file_json(e.name, e) for e in entries]
    return json_response({"files": files} if files else {})


async def delete(request: Request) -> Response:
    key = _key(request)
    with _store_errors():
        await node_of(request).artifacts.delete(key)
    return empty_response()


async def multipart_upload(request: Request) -> Response:
    _key(request)
    raise MlflowError("NOT_IMPLEMENTED", NO_MULTIPART_UPLOAD)


async def presigned_download(request: Request) -> Response:
    _key(request)
    raise MlflowError("NOT_IMPLEMENTED", NO_MULTIPART_DOWNLOAD)


def _not_served(uri: str) -> MlflowError:
    return MlflowError(
        "NOT_IMPLEMENTED",
        f"The artifacts at {uri} are not in the gateway's artifact store; only mlflow-artifacts:/"
        " locations are served",
    )


async def list_run_artifacts(request: Request) -> Response:
    """MLflow's ListArtifacts: the run's files at ``path``, with run-relative paths."""
    body = await read_request(request, LIST_RUN_ARTIFACTS)
    run_id = body["run_id"]
    node = node_of(request)
    with _store_errors():
        relative = directory_key(body.get("path"))
    run = await tracking.run_row(node.database.pool, run_id)
    if run is None:
        raise run_not_found(run_id)
    root_uri = str(run["artifact_uri"])
    root = layout.key_of_uri(root_uri)
    if root is None:
        raise _not_served(root_uri)
    with _store_errors():
        entries = await node.artifacts.list(join_key(check_key(root), relative))
    response: dict[str, object] = {"root_uri": root_uri}
    if entries:
        response["files"] = [_file_json(join_key(relative, e.name), e) for e in entries]
    return json_response(response)


async def verify_run(request: Request) -> Response:
    """Recorded files of a run against the store (ledgerflow API, not MLflow's)."""
    run_id = request.path_params["run_id"]
    node = node_of(request)
    try:
        with _store_errors():
            report = await verify_run_artifacts(node.database.pool, node.artifacts, run_id)
    except UnknownRun:
        raise run_not_found(run_id) from None
    except NotProxied as err:
        raise _not_served(err.uri) from None
    return json_response(report.json())


PROXY_PREFIXES = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
MLFLOW_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")


def artifact_routes() -> list[Route]:
    proxied = [
        ("PUT", "artifacts/{path:path}", upload),
        ("GET", "artifacts/{path:path}", download),
        ("DELETE", "artifacts/{path:path}", delete),
        ("GET", "artifacts", list_proxied),
        ("POST", "mpu/create/{path:path}", multipart_upload),
        ("POST", "mpu/complete/{path:path}", multipart_upload),
        ("POST", "mpu/abort/{path:path}", multipart_upload),
        ("GET", "presigned/{path:path}", presigned_download),
    ]
    routes = [
        Route(prefix + path, endpoint, methods=[method])
        for prefix in PROXY_PREFIXES
        for method, path, endpoint in proxied
    ]
    routes += [
        Route(prefix + "artifacts/list", list_run_artifacts, methods=["GET"])
        for prefix in MLFLOW_PREFIXES
    ]
    routes.append(
        Route("/api/ledgerflow/runs/{run_id}/artifacts/verify", verify_run, methods=["GET"])
    )
    return routes
