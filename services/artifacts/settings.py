"""Artifact settings: where artifacts are stored and which locations clients are given."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


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

    def location(self, experiment_id: str) -> str:
        return f"{self.default_root.rstrip('/')}/{experiment_id}"
