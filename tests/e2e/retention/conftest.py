"""Deployments for the retention tests, with the settings `ledgerflow artifacts gc` needs to
reach the same database, event log and store as the server: the embedded default with the local
store, the embedded default with S3 (moto), and the cluster mode (Kafka, external PostgreSQL,
faust projector) with S3."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from tests.e2e.artifacts.conftest import embedded_database_url, fresh_database, s3_env
from tests.e2e.deployments import cluster_deployment, cluster_env
from tests.e2e.server import running_server
from tests.stack.s3 import S3Endpoint

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")


@dataclass(frozen=True)
class Deployment:
    name: str
    url: str
    env: dict[str, str]
    """The server's settings; the gc command runs with the same."""
    data_dir: Path
    database_url: str
    local_root: Path | None = None
    s3: S3Endpoint | None = None

    def gc(self, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
        """`ledgerflow artifacts gc ARGS` as a separate process, as an operator runs it (in a
        terminal ``columns`` wide)."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli",
                "artifacts",
                "gc",
                *args,
                "--data-dir",
                str(self.data_dir),
            ],
            env={**os.environ, **self.env, "COLUMNS": str(columns)},
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="package", params=["embedded-local", "embedded-s3", "cluster-s3"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_server: str
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp(request.param)
    data_dir = workdir / "ledgerflow-data"
    if request.param == "embedded-local":
        root = workdir / "artifacts"
        env = {"LEDGERFLOW_ARTIFACTS_BACKEND": "local", "LEDGERFLOW_ARTIFACTS_LOCAL_DIR": str(root)}
        with running_server(data_dir, env=env) as url:
            yield Deployment(
                request.param, url, env, data_dir, embedded_database_url(data_dir), local_root=root
            )
        return
    endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
    env = s3_env(endpoint)
    if request.param == "embedded-s3":
        with running_server(data_dir, env=env) as url:
            yield Deployment(
                request.param, url, env, data_dir, embedded_database_url(data_dir), s3=endpoint
            )
        return
    database_url = fresh_database(pg_server)
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    env |= cluster_env(database_url, bootstrap)
    with cluster_deployment(workdir, database_url, bootstrap, env=env) as url:
        yield Deployment(request.param, url, env, data_dir, database_url, s3=endpoint)


@pytest.fixture
def client(deployment: Deployment) -> Iterator[MlflowClient]:
    mlflow.set_tracking_uri(deployment.url)
    yield MlflowClient(tracking_uri=deployment.url)
    while mlflow.active_run() is not None:
        mlflow.end_run()
