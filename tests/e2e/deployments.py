"""The two deployments as real processes: the embedded default, and the cluster mode
(gateway + faust projector over the real Kafka broker, external PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.e2e.server import running_server


@contextlib.contextmanager
def embedded_deployment(workdir: Path) -> Iterator[str]:
    with running_server(workdir / "ledgerflow-data") as url:
        yield url


def wait_for_default_experiment(
    url: str, projector: subprocess.Popen[bytes], log: str, timeout: float = 120.0
) -> None:
    """A fresh cluster is usable once the projector has created experiment 0."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if projector.poll() is not None:
            raise RuntimeError(f"the projector exited; see {log}")
        response = httpx.get(f"{url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        if response.status_code == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"experiment 0 not projected after {timeout}s; see {log}")


def cluster_env(database_url: str, bootstrap: str) -> dict[str, str]:
    """The settings of one cluster deployment (its own topics), for its processes and for CLI
    commands run against it."""
    return {
        "LEDGERFLOW_LOG_BACKEND": "kafka",
        "LEDGERFLOW_DATABASE_URL": database_url,
        "LEDGERFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LEDGERFLOW_TOPIC_PREFIX": f"c{uuid.uuid4().hex[:10]}",
        "LEDGERFLOW_DATA_PARTITIONS": "4",
        "LEDGERFLOW_KAFKA_LINGER_MS": "1",
    }


@contextlib.contextmanager
def cluster_deployment(
    workdir: Path, database_url: str, bootstrap: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    env = env or cluster_env(database_url, bootstrap)
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "projector.log").open("ab")
    projector = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "projector"],
        env={**os.environ, **env, "LEDGERFLOW_DATA_DIR": str(workdir / "projector")},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with running_server(workdir / "gateway", env=env, timeout=120) as url:
            wait_for_default_experiment(url, projector, log.name)
            yield url
    finally:
        projector.send_signal(signal.SIGTERM)
        try:
            projector.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(projector.pid, signal.SIGKILL)
            projector.wait(timeout=10)
        log.close()
