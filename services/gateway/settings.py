"""Gateway settings: where it listens and how long a write waits for the projector's verdict."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERFLOW_GATEWAY_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    host: str = "127.0.0.1"
    """Listen address (`--host`)."""

    port: int = 5000
    """Listen port (`--port`)."""

    verdict_timeout_seconds: float = 30.0
    """A write answers 503 TEMPORARILY_UNAVAILABLE if the projector has not decided by then."""

    run_projector: bool | None = None
    """Run the projector in the server process. Unset: yes with the embedded log, no with Kafka."""
