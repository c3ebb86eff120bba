"""Settings of the `ledgerflow bi` commands."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BiSettings(BaseSettings):
    """BI readers and the loopback TCP entrance of the embedded PostgreSQL."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGERFLOW_BI_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    password: SecretStr | None = None
    """`bi grant`: the reader's password, instead of `--password` or the prompt (for scripts)."""

    listen_host: str = "127.0.0.1"
    """`bi listen`: loopback address of the TCP entrance for BI tools (embedded PostgreSQL)."""

    listen_port: int = 5433
    """`bi listen`: its port."""
