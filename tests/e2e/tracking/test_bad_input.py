"""Bad input gets MLflow's answer (JSON envelope, right code), never a 500 or a traceback, and
nothing already accepted is lost."""

from __future__ import annotations

import requests
from mlflow import MlflowClient

from tests.e2e.tracking.conftest import unique


def post(url: str, path: str, body: object = None, raw: bytes | None = None, **headers: str):
    if raw is not None:
        return requests.post(
            f"{url}/api/2.0/mlflow/{path}",
            data=raw,
            headers={"Content-Type": "application/json", **headers},
            timeout=30,
        )
    return requests.post(f"{url}/api/2.0/mlflow/{path}", json=body, timeout=30)


def assert_error(response: requests.Response, status: int, code: str, text: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert text in body["message"]
    assert "Traceback" not in response.text


def test_bad_requests_are_answered_in_mlflows_format(
    client: MlflowClient, tracking_uri: str
) -> None:
    run_id = client.create_run(client.create_experiment(unique("bad"))).info.run_id
    client.log_metric(run_id, "kept", 1.0, timestamp=5, step=0)
    client.log_param(run_id, "kept", "yes")

    cases = [
        (
            post(tracking_uri, "runs/log-metric", raw=b"{not json"),
            400,
            "INVALID_PARAMETER_VALUE",
            "The request body is not valid JSON",
        ),
        (
            requests.post(
                f"{tracking_uri}/api/2.0/mlflow/runs/log-metric",
                data="x",
                headers={"Content-Type": "text/plain"},
                timeout=30,
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "Content-Type must be one of ['application/json']",
        ),
        (
            post(
                tracking_uri,
                "runs/log-metric",
                {"run_id": run_id, "key": "m", "value": "abc", "timestamp": 1},
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "Invalid value \"abc\" for parameter 'value' supplied",
        ),
        (
            post(tracking_uri, "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0}),
            400,
            "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter 'timestamp'",
        ),
        (
            post(
                tracking_uri,
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "metrics": [
                        {"key": "m", "value": 1.0, "timestamp": 1, "step": 0} for _ in range(1001)
                    ],
                },
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "A batch logging request can contain at most 1000 metrics. Got 1001 metrics.",
        ),
        (
            post(
                tracking_uri,
                "runs/log-batch",
                {"run_id": run_id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "at most 100 params. Got 101 params",
        ),
        (
            post(
                tracking_uri,
                "runs/log-batch",
                {
                    "run_id": run_id,
                    "params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}],
                },
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "Duplicate parameter keys have been submitted: ['a']",
        ),
        (
            post(
                tracking_uri,
                "runs/log-metric",
                {"run_id": run_id, "key": "bad*name", "value": 1.0, "timestamp": 1},
            ),
            400,
            "INVALID_PARAMETER_VALUE",
            "Names may only contain alphanumerics",
        ),
        (
            post(tracking_uri, "runs/log-param", {"run_id": run_id}),
            404,
            "ENDPOINT_NOT_FOUND",
            "",
        ),
        (
            post(
                tracking_uri,
                "runs/log-metric",
                {"run_id": "0" * 32, "key": "m", "value": 1.0, "timestamp": 1},
            ),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            f"Run with id={'0' * 32} not found",
        ),
        (
            requests.get(
                f"{tracking_uri}/api/2.0/mlflow/runs/get", params={"run_id": "f" * 32}, timeout=30
            ),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            f"Run with id={'f' * 32} not found",
        ),
        (
            post(tracking_uri, "runs/search", {"max_results": 50001}),
            400,
            "INVALID_PARAMETER_VALUE",
            "50001",
        ),
        (
            post(tracking_uri, "runs/search", {"filter": "metrics.acc > 'x'"}),
            400,
            "INVALID_PARAMETER_VALUE",
            "Expected numeric value type for metric",
        ),
        (
            post(tracking_uri, "experiments/create", {"name": ""}),
            400,
            "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter 'name'",
        ),
        (
            post(tracking_uri, "runs/create", {"experiment_id": "99999999"}),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "No Experiment with id=99999999 exists",
        ),
        (
            requests.get(f"{tracking_uri}/api/2.0/mlflow/runs/get", timeout=30),
            400,
            "INVALID_PARAMETER_VALUE",
            "Missing value for required parameter 'run_id'",
        ),
        (
            requests.put(f"{tracking_uri}/api/2.0/mlflow/runs/create", json={}, timeout=30),
            405,
            "ENDPOINT_NOT_FOUND",
            "",
        ),
    ]
    for response, status, code, text in cases:
        assert_error(response, status, code, text)

    # nothing that was accepted before the bad requests is lost or changed
    run = client.get_run(run_id)
    assert run.data.metrics == {"kept": 1.0}
    assert run.data.params == {"kept": "yes"}
    assert [m.value for m in client.get_metric_history(run_id, "kept")] == [1.0]
