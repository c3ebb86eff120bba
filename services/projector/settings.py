"""Projector settings: batch size for both the embedded and the faust worker, and the faust
worker's Kafka and failover timings."""

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
    """Most log records applied in one PostgreSQL transaction. A batch is whatever arrived while
    the previous one was applied, up to this many: a lone write is applied at once."""

    fetch_max_wait_ms: Annotated[int, Field(gt=0, le=30_000)] = 50
    """Cluster mode: longest a Kafka fetch waits on the broker for records while it leaves out a
    partition whose records are not consumed yet (faust's own wait is 1,500 ms, which stalled a
    projector that was behind; see services/projector/transport.py). More than 0: an idle
    projector would otherwise fetch without pause."""

    idle_fetch_wait_ms: Annotated[int, Field(gt=0, le=30_000)] = 1_000
    """Cluster mode: longest a Kafka fetch waits when it holds every assigned partition. Such a
    fetch returns as soon as any record arrives, so this delays nothing; it sets how often an
    idle projector asks the broker."""

    data_workers: int = 2
    """Embedded mode: concurrent workers sharing the data topic's partitions (each partition
    has one worker, so its order is kept)."""

    session_timeout_seconds: float = 10.0
    """Cluster mode: how soon a dead worker's partitions are handed to a live one."""

    log_level: str = "info"
    """Log level of the faust worker."""
