"""Health, version, server-info and the JSON 404 envelope, in both deployments."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("prefix", ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"])
def test_service_endpoints_and_unknown_paths(tracking_uri: str, prefix: str) -> None:
    with httpx.Client(base_url=tracking_uri, timeout=30) as http:
        assert http.get("/health").text == "OK"
        version = http.get("/version")
        assert version.status_code == 200 and version.text[0].isdigit()
        info = http.get("/api/3.0/mlflow/server-info")
        assert info.status_code == 200
        backend = info.json()["ledgerflow"]["log_backend"]
        assert backend in ("embedded", "kafka")
        for method in ("GET", "POST"):
            missing = http.request(method, f"{prefix}/no-such-endpoint", json={})
            assert missing.status_code == 404
            body = missing.json()
            assert body["error_code"] == "ENDPOINT_NOT_FOUND"
            assert "no-such-endpoint" in body["message"] or body["message"]


def test_each_deployment_reports_its_own_log(
    tracking_uri: str, request: pytest.FixtureRequest
) -> None:
    info = httpx.get(f"{tracking_uri}/api/3.0/mlflow/server-info", timeout=30).json()
    mode = request.node.callspec.params["tracking_uri"]
    assert info["ledgerflow"]["log_backend"] == ("embedded" if mode == "embedded" else "kafka")
