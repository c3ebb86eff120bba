"""The native SDK and the ledgerflow+kafka:// tracking-store plugin against a cluster deployment."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from services.sdk import LedgerflowClient, ProducerSettings
from services.sdk.client import LedgerflowError
from tests.e2e.deployments import cluster_deployment, embedded_deployment
from tests.e2e.tracking.conftest import _database

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, pg_server: str, kafka_bootstrap: str
) -> Iterator[str]:
    with cluster_deployment(
        tmp_path_factory.mktemp("sdk"), _database(pg_server), kafka_bootstrap
    ) as url:
        yield url


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout}s")


def test_sdk_logs_straight_to_the_log(cluster: str) -> None:
    client = MlflowClient(cluster)
    experiment_id = client.create_experiment(f"sdk-{uuid.uuid4().hex[:8]}")
    with LedgerflowClient(cluster, producer=ProducerSettings(linger_ms=5)) as lf:
        run = lf.start_run(experiment_id, run_name="native", tags={"team": "infra"})
        run.log_params({"lr": 0.01, "layers": 4})
        for step in range(25_000):
            run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 25_000}, step=step)
        run.set_tags({"phase": "done"})
        run.end()
        run_id = run.run_id
    history = wait_for(
        lambda: (h := client.get_metric_history(run_id, "loss")) and len(h) == 25_000 and h,
        what="25,000 loss points",
    )
    assert sorted(m.step for m in history) == list(range(25_000))
    fetched = wait_for(
        lambda: (r := client.get_run(run_id)).data.tags.get("phase") == "done" and r,
        what="the tags",
    )
    assert fetched.info.status == "FINISHED"
    assert fetched.data.params == {"lr": "0.01", "layers": "4"}
    assert fetched.data.metrics["acc"] == pytest.approx(24_999 / 25_000)
    assert fetched.data.tags["team"] == "infra"


def test_rejections_are_queryable(cluster: str) -> None:
    client = MlflowClient(cluster)
    experiment_id = client.create_experiment(f"sdk-rej-{uuid.uuid4().hex[:8]}")
    tiny_window = ProducerSettings(max_in_flight=2)  # the backpressure path
    with LedgerflowClient(cluster, producer=tiny_window) as lf:
        run = lf.start_run(experiment_id)
        run.log_params({"lr": "0.1"})
        run.flush()
        wait_for(lambda: client.get_run(run.run_id).data.params.get("lr") == "0.1")
        run.log_params({"lr": "0.2"})  # refused by the projector, after the fact
        run.flush()
        rejected = wait_for(lambda: lf.rejections(run.run_id), what="the rejection")
    assert rejected[0]["event_type"] == "params.logged"
    assert rejected[0]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in rejected[0]["reason"]
    assert client.get_run(run.run_id).data.params == {"lr": "0.1"}


def test_mlflow_plugin_uri(cluster: str) -> None:
    plugin_uri = cluster.replace("http://", "ledgerflow+kafka://")
    reader = MlflowClient(cluster)
    experiment_id = reader.create_experiment(f"plugin-{uuid.uuid4().hex[:8]}")
    mlflow.set_tracking_uri(plugin_uri)
    try:
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_param("optimizer", "adam")
            for step in range(300):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metrics({"a": 1.0, "b": 2.0}, step=0)
            mlflow.set_tag("via", "kafka")
    finally:
        mlflow.set_tracking_uri(cluster)
    fetched = wait_for(
        lambda: (
            (r := reader.get_run(run.info.run_id)).data.tags.get("via") == "kafka"
            and len(reader.get_metric_history(run.info.run_id, "loss")) == 300
            and r
        ),
        what="the plugin's writes",
    )
    assert fetched.info.status == "FINISHED"
    assert fetched.data.params == {"optimizer": "adam"}
    assert fetched.data.metrics["a"] == 1.0


def test_sdk_refuses_the_embedded_log(tmp_path: Path) -> None:
    with embedded_deployment(tmp_path) as url, pytest.raises(LedgerflowError) as err:
        LedgerflowClient(url)
    assert err.value.error_code == "INVALID_STATE"
