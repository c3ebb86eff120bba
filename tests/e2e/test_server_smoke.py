"""`ledgerflow server` with no configuration: embedded PostgreSQL and log, health and version."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.server import running_server


def test_embedded_server_serves_health_version_and_json_404(tmp_path: Path) -> None:
    data_dir = tmp_path / "ledgerflow-data"
    with running_server(data_dir) as url:
        assert httpx.get(f"{url}/health").text == "OK"
        version = httpx.get(f"{url}/version")
        assert version.status_code == 200 and version.text[0].isdigit()
        info = httpx.get(f"{url}/api/3.0/mlflow/server-info").json()
        assert info["ledgerflow"]["log_backend"] == "embedded"
        missing = httpx.post(f"{url}/api/2.0/mlflow/no-such-endpoint", json={})
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    # The embedded cluster and its migrations live under the data directory.
    assert (data_dir / "postgres" / "PG_VERSION").exists()


def test_projection_lag_is_exposed(tmp_path: Path) -> None:
    with running_server(tmp_path / "ledgerflow-data") as url:
        created = httpx.post(f"{url}/api/2.0/mlflow/experiments/create", json={"name": "lag"})
        assert created.status_code == 200
        lag = httpx.get(f"{url}/api/ledgerflow/lag").json()
        topics = {(p["topic"], p["partition"]) for p in lag["partitions"]}
        assert ("ledgerflow.control", 0) in topics
        assert len([t for t in topics if t[0] == "ledgerflow.data"]) == 8
        control = next(p for p in lag["partitions"] if p["topic"] == "ledgerflow.control")
        # the write above answered after projection, so nothing is behind on control
        assert control["end_offset"] >= 2 and control["lag"] == 0
        metrics = httpx.get(f"{url}/metrics").text
        assert 'ledgerflow_projection_lag{topic="ledgerflow.control",partition="0"} 0' in metrics
