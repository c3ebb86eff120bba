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
