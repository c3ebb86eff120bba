"""Open the artifact store the settings ask for."""

from __future__ import annotations

from pathlib import Path

from services.artifacts.local import LocalArtifactStore
from services.artifacts.s3 import S3ArtifactStore
from services.artifacts.settings import ArtifactSettings
from services.artifacts.store import ArtifactStore


async def open_artifact_store(settings: ArtifactSettings, data_dir: Path) -> ArtifactStore:
    """The local directory (default: `<data_dir>/artifacts`) or the S3 bucket, ready to use."""
    if settings.backend == "s3":
        store = S3ArtifactStore(settings)
        await store.start()
        return store
    return LocalArtifactStore(settings.local_root(data_dir))
