"""A ledgerflow deployment per test module, in both modes, for the real mlflow client."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import mlflow
import pytest
from mlflow import MlflowClient

from services.store.databases import create_database
from tests.e2e.deployments import cluster_deployment, embedded_deployment

# Fail fast instead of retrying for minutes if the server misbehaves; tests that exercise
# retries send the same request twice themselves.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")


def _database(pg_server: str) -> str:
    return asyncio.run(create_database(pg_server, f"c_{uuid.uuid4().hex[:12]}"))


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def tracking_uri(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pg_server: str
) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        with embedded_deployment(workdir) as url:
            yield url
    else:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        with cluster_deployment(workdir, _database(pg_server), bootstrap) as url:
            yield url


@pytest.fixture
def client(tracking_uri: str) -> Iterator[MlflowClient]:
    mlflow.set_tracking_uri(tracking_uri)
    # The active experiment is process-wide: start every test from "Default", which every
    # deployment has, whatever a previous test (against another deployment) chose.
    mlflow.set_experiment(experiment_id="0")
    yield MlflowClient(tracking_uri=tracking_uri)
    while mlflow.active_run() is not None:
        mlflow.end_run()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
