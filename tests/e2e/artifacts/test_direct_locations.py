"""The option to hand out direct s3:// locations: the client writes to the bucket itself, with
its own credentials, and the gateway still lists and serves those files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from tests.e2e.artifacts.conftest import s3_env
from tests.e2e.server import running_server
from tests.stack.s3 import S3Endpoint


@pytest.fixture(scope="module")
def direct(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: S3Endpoint
) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**s3_env(s3_endpoint), "LEDGERFLOW_ARTIFACTS_DIRECT_LOCATIONS": "true"}
    workdir = tmp_path_factory.mktemp("direct")
    with running_server(workdir / "ledgerflow-data", env=env) as url:
        yield url, env


def test_clients_write_to_the_bucket_directly(
    direct: tuple[str, dict[str, str]],
    s3_endpoint: S3Endpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, env = direct
    bucket = env["LEDGERFLOW_ARTIFACTS_S3_BUCKET"]
    prefix = env["LEDGERFLOW_ARTIFACTS_S3_PREFIX"]
    # the client's own credentials and endpoint, as a training job would have them
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_endpoint.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_endpoint.region)
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    experiment_id = client.create_experiment(f"direct-{uuid.uuid4().hex[:8]}")
    assert client.get_experiment(experiment_id).artifact_location == (
        f"s3://{bucket}/{prefix}/{experiment_id}"
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("written straight to the bucket")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        assert run.info.artifact_uri.startswith(f"s3://{bucket}/{prefix}/{experiment_id}/")
        mlflow.log_artifact(str(notes))
    # the client lists and downloads from S3 itself
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["notes.txt"]
    # ... and the gateway serves the same keys through its proxy
    import httpx

    key = f"{experiment_id}/{run.info.run_id}/artifacts/notes.txt"
    served = httpx.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/{key}")
    assert served.status_code == 200 and served.text == "written straight to the bucket"
