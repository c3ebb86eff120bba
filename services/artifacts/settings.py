"""Artifact settings: where artifacts are stored and which locations clients are given."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ArtifactBackend = Literal["local", "s3"]


class ArtifactSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERFLOW_ARTIFACTS_",
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    default_root: str = "mlflow-artifacts:"
    """Root of new experiments' artifact locations; `mlflow-artifacts:` proxies through the
    gateway (experiment 1 gets mlflow-artifacts:/1)."""

    backend: ArtifactBackend = "local"
    """Where the gateway stores proxied artifacts: `local` (a directory) or `s3`."""

    local_dir: Path | None = None
    """Directory of the local store. Unset: `<data_dir>/artifacts`."""

    s3_bucket: str = "ledgerflow"
    """Bucket of the S3 store."""

    s3_prefix: str | None = None
    """Key prefix inside the bucket under which every artifact is stored (e.g. `prod/artifacts`).
    Unset: keys start at the top of the bucket."""

    s3_endpoint_url: str | None = None
    """S3-compatible endpoint (MinIO, moto, Ceph), addressed path-style. Unset: AWS S3."""

    s3_region: str = "us-east-1"
    """Region of the bucket (also the region a created bucket is placed in)."""

    s3_access_key_id: SecretStr | None = None
    """Access key. Unset (with the secret): boto's usual credential chain (env, profile, role)."""

    s3_secret_access_key: SecretStr | None = None
    """Secret key belonging to the access key."""

    s3_create_bucket: bool = False
    """Create the bucket at start if it does not exist; otherwise a missing bucket stops the
    start with an error."""

    s3_part_size: int = 8 * 1024 * 1024
    """Bytes per part of an S3 multipart upload (at least 5 MiB); smaller bodies are one PUT.
    Parts grow by this much every 1000 parts, so one object may hold ~430 GB at the default."""

    s3_upload_concurrency: int = 4
    """Parts of one upload sent to S3 at once; a transfer holds at most this many parts in
    memory (plus the one being filled)."""

    direct_locations: bool = False
    """With the S3 backend, give new experiments `s3://<bucket>/<prefix>/<id>` locations instead
    of proxied ones, for clients that write to the bucket with their own credentials. The keys
    are the same as the proxy's, so the gateway still lists and serves them; but files written
    directly produce no artifact events."""

    def location(self, experiment_id: str) -> str:
        if self.direct_locations and self.backend == "s3":
            prefix = f"{self.s3_prefix.strip('/')}/" if self.s3_prefix else ""
            return f"s3://{self.s3_bucket}/{prefix}{experiment_id}"
        return f"{self.default_root.rstrip('/')}/{experiment_id}"

    def local_root(self, data_dir: Path) -> Path:
        return self.local_dir if self.local_dir is not None else data_dir / "artifacts"
