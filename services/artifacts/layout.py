"""Where runs' and logged models' artifacts live in the store, and how artifact URIs map to keys.

MLflow's layout below the proxied root (`mlflow-artifacts:/`), which the mlflow client follows:

    <experiment_id>/<run_id>/artifacts/<path>             a run's artifacts
    <experiment_id>/models/<model_id>/artifacts/<path>    a logged model's artifacts

Every stored file under one of these roots is recorded as an `artifact.stored` event. Anything
else (trace data under `<experiment_id>/traces/...`, files a client puts elsewhere) is stored and
served like any other file but belongs to no run or model, so it produces no event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from schemas import ArtifactStored
from services.artifacts.paths import join_key
from services.artifacts.store import StoredFile

ARTIFACTS = "artifacts"
MODELS = "models"
_NOT_RUN_IDS = frozenset({MODELS, "traces"})
_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
"""MLflow's run id rule (`_validate_run_id`); experiment and model ids fit it too."""

PROXY_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass(frozen=True, slots=True)
class ArtifactOwner:
    """The run or logged model a stored key belongs to."""

    experiment_id: str
    run_id: str | None
    model_id: str | None
    root: str
    """Key of the owner's artifact root, e.g. `1/<run_id>/artifacts`."""
    path: str
    """The file's path relative to that root."""


def owner_of(key: str) -> ArtifactOwner | None:
    """The run or model whose artifact root holds ``key`` (a checked key), if any."""
    parts = key.split("/")
    if not _ID.match(parts[0]):
        return None
    if len(parts) >= 5 and parts[1] == MODELS and parts[3] == ARTIFACTS and _ID.match(parts[2]):
        return ArtifactOwner(parts[0], None, parts[2], "/".join(parts[:4]), "/".join(parts[4:]))
    if (
        len(parts) >= 4
        and parts[2] == ARTIFACTS
        and parts[1] not in _NOT_RUN_IDS
        and _ID.match(parts[1])
    ):
        return ArtifactOwner(parts[0], parts[1], None, "/".join(parts[:3]), "/".join(parts[3:]))
    return None


def stored_event(key: str, stored: StoredFile) -> ArtifactStored | None:
    """The `artifact.stored` payload for a file just stored at ``key``; None outside run and
    model roots. The path is the store key, so the event says exactly where the bytes are."""
    owner = owner_of(key)
    if owner is None:
        return None
    return ArtifactStored(
        run_id=owner.run_id,
        model_id=owner.model_id,
        path=key,
        size=stored.size,
        sha256=stored.sha256,
    )


def run_root(experiment_id: str, run_id: str) -> str:
    return join_key(experiment_id, run_id, ARTIFACTS)


def key_of_uri(uri: str) -> str | None:
    """The store key a proxied artifact URI points at: `mlflow-artifacts:/1/x/artifacts` (any
    netloc) or `http(s)://host/.../api/2.0/mlflow-artifacts/artifacts/1/x/artifacts`. None for
    locations the gateway does not serve (s3://, file:, ...). The key is not checked here."""
    parsed = urlparse(uri)
    if parsed.scheme == "mlflow-artifacts":
        return parsed.path.strip("/")
    if parsed.scheme in ("http", "https") and PROXY_ROUTE in parsed.path:
        return parsed.path.split(PROXY_ROUTE, 1)[1].strip("/")
    return None
