"""The web UI: the single page and its static files at `/`, and the small JSON summaries it reads
(experiments with run counts, ingest rate and audit-chain status) under `/api/ledgerflow/ui/`."""

from services.gateway.ui.routes import ui_routes

__all__ = ["ui_routes"]
