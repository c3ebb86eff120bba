"""Projector settings: batch size and linger for both the embedded and the faust worker."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ProjectorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERFLOW_PROJECTOR_",
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    max_batch: int = 200
    """Most log records applied in one PostgreSQL transaction."""

    linger_seconds: float = 0.002
    """How long a batch waits to fill before it is applied."""

    data_workers: int = 2
    """Embedded mode: concurrent workers sharing the data topic's partitions (each partition
    has one worker, so its order is kept)."""

    session_timeout_seconds: float = 10.0
    """Cluster mode: how soon a dead worker's partitions are handed to a live one."""

    log_level: str = "info"
    """Log level of the faust worker."""
