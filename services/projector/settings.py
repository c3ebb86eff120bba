"""Projector settings: batch size and linger for both the embedded and the faust worker."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProjectorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERFLOW_PROJECTOR_",
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    max_batch: Annotated[int, Field(gt=0)] = 200
    """Most log records applied in one PostgreSQL transaction."""

    linger_seconds: Annotated[float, Field(gt=0)] = 0.002
    """How long a batch waits to fill before it is applied (more than 0: faust's batching never
    returns a batch with no time to wait)."""

    data_workers: int = 2
    """Embedded mode: concurrent workers sharing the data topic's partitions (each partition
    has one worker, so its order is kept)."""

    session_timeout_seconds: float = 10.0
    """Cluster mode: how soon a dead worker's partitions are handed to a live one."""

    log_level: str = "info"
    """Log level of the faust worker."""
