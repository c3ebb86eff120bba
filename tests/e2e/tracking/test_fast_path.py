"""The fast path: `x-ledgerflow-ack: log` answers once the log has a write; projection follows
and a refusal is read back from /api/ledgerflow/rejections."""

from __future__ import annotations

import time

import httpx
from mlflow import MlflowClient

from tests.e2e.tracking.conftest import unique

FAST = {"x-ledgerflow-ack": "log"}


def _eventually(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_fast_path_writes_are_applied_and_refusals_queryable(
    client: MlflowClient, tracking_uri: str
) -> None:
    run_id = client.create_run(client.create_experiment(unique("fast"))).info.run_id
    client.log_param(run_id, "lr", "0.1")
    api = f"{tracking_uri}/api/2.0/mlflow"
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "loss", "value": 1.0 / (i + 1), "timestamp": 1_700_000_000_000 + i, "step": i}
            for i in range(1000)
        ],
    }
    answered = httpx.post(f"{api}/runs/log-batch", json=batch, headers=FAST, timeout=30)
    assert answered.status_code == 200 and answered.json() == {}
    history = _eventually(lambda: len(client.get_metric_history(run_id, "loss")) == 1000)
    assert history
    # a state-dependent refusal cannot be answered inline on the fast path...
    refused = httpx.post(
        f"{api}/runs/log-parameter",
        json={"run_id": run_id, "key": "lr", "value": "0.2"},
        headers=FAST,
        timeout=30,
    )
    assert refused.status_code == 200
    # ...so it is recorded, with MLflow's code and message, for the writer to read back
    rejection = _eventually(
        lambda: httpx.get(
            f"{tracking_uri}/api/ledgerflow/rejections", params={"aggregate": run_id}
        ).json()["rejections"]
    )
    assert rejection[0]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in rejection[0]["reason"]
    assert client.get_run(run_id).data.params == {"lr": "0.1"}
