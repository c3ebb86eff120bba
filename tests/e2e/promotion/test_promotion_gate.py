"""The promotion gate end to end: real sklearn models logged with the mlflow client against an
embedded server (with authentication on), validated by the GitHub Actions helper script, and
promoted or refused by `ledgerflow promote` run as a subprocess; both decisions are in the
model's history with their evidence, attributed to the authenticated CI user."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from tests.e2e.server import running_server

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / "deploy" / "github-actions" / "promote.yml"
VALIDATE = ROOT / "deploy" / "github-actions" / "validate_model.py"
CI = {"MLFLOW_TRACKING_USERNAME": "ci-bot", "MLFLOW_TRACKING_PASSWORD": "s3cret-ci-password"}
REGRESSION = "metrics.auc_roc >= current.auc_roc - 0.005"

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("promotion")
    users = workdir / "users"
    users.write_text(
        f"ci-bot:sha256:{hashlib.sha256(CI['MLFLOW_TRACKING_PASSWORD'].encode()).hexdigest()}\n"
    )
    with running_server(
        workdir / "ledgerflow-data", env={"LEDGERFLOW_AUTH_USERS_FILE": str(users)}
    ) as url:
        yield url


@pytest.fixture
def ci_env(gateway: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"MLFLOW_TRACKING_URI": gateway, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", **CI}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    mlflow.set_tracking_uri(gateway)
    return env


def data(seed: int, rows: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 4))
    return features, (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)


def train_and_register(name: str, label_noise: float, seed: int) -> str:
    """Fit on labels with a share flipped (worse models for more noise), log auc_roc on the
    run and the model with a signature, registered under ``name``; returns the version."""
    features, labels = data(seed)
    flip = np.random.default_rng(seed + 1).random(len(labels)) < label_noise
    model = LogisticRegression().fit(features, np.where(flip, 1 - labels, labels))
    test_features, test_labels = data(99)
    with mlflow.start_run():
        auc = roc_auc_score(test_labels, model.predict_proba(test_features)[:, 1])
        mlflow.log_metric("auc_roc", float(auc))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, model.predict(features)),
            registered_model_name=name,
            pip_requirements=["scikit-learn"],  # skips the slow requirement inference
        )
    return str(info.registered_model_version)


def ledgerflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env, "COLUMNS": "250"},
    )


def history(url: str, name: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/ledgerflow/registry/models/{name}/history", timeout=30)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def decisions(url: str, name: str) -> list[dict[str, Any]]:
    return [e for e in history(url, name) if e["event_type"] == "promotion.decided"]


def test_a_passing_and_a_failing_promotion(gateway: str, ci_env: dict[str, str]) -> None:
    client = MlflowClient(gateway)
    mlflow.set_experiment(f"promotion-{uuid.uuid4().hex[:8]}")
    name = f"churn-{uuid.uuid4().hex[:8]}"
    good = train_and_register(name, label_noise=0.0, seed=1)
    first = ledgerflow(
        ci_env,
        "promote",
        name,
        good,
        "--to",
        "Production",
        "--require",
        REGRESSION,
        "--require",
        "signature",
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no current version" in first.stdout and "promoted" in first.stdout

    worse = train_and_register(name, label_noise=0.45, seed=2)
    candidate_auc = client.get_run(client.get_model_version(name, worse).run_id).data.metrics[
        "auc_roc"
    ]
    current_auc = client.get_run(client.get_model_version(name, good).run_id).data.metrics[
        "auc_roc"
    ]
    assert candidate_auc < current_auc - 0.005
    failing = ledgerflow(
        ci_env,
        "promote",
        name,
        worse,
        "--to",
        "Production",
        "--archive-existing",
        "--require",
        REGRESSION,
        "--require",
        "signature",
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "FAIL" in failing.stdout and "not promoted" in failing.stderr
    assert "Traceback" not in failing.stderr
    assert client.get_model_version(name, good).current_stage == "Production"
    assert client.get_model_version(name, worse).current_stage == "None"

    recorded = decisions(gateway, name)
    assert [d["payload"]["passed"] for d in recorded] == [True, False]
    passed, refused = recorded
    assert passed["payload"]["target_stage"] == "Production"
    assert passed["payload"]["replaced_version"] is None
    assert passed["payload"]["conditions"][0]["detail"] == "no current version"
    assert refused["payload"]["version"] == int(worse)
    assert refused["payload"]["replaced_version"] == int(good)
    regression, signature = refused["payload"]["conditions"]
    assert regression["expression"] == REGRESSION and regression["passed"] is False
    assert regression["candidate"] == pytest.approx(candidate_auc)
    assert regression["current"] == pytest.approx(current_auc)
    assert signature == {
        "expression": "signature",
        "candidate": "present",
        "current": None,
        "passed": True,
        "detail": "the candidate's MLmodel has a signature",
    }
    for decision in recorded:
        assert decision["actor"] == {
            "name": "ci-bot",
            "kind": "authenticated",
            "self_reported": False,
        }
        assert decision["verdict"] == "accepted"
    # the passing decision came before the transition it allowed; the failing one changed nothing
    events = [e["event_type"] for e in history(gateway, name)]
    decided = events.index("promotion.decided")
    assert events[decided + 1] == "model_version.stage_transitioned"
    assert events[-1] == "promotion.decided"

    shown = ledgerflow(ci_env, "registry", "history", name)
    assert shown.returncode == 0, shown.stderr
    assert "PASSED" in shown.stdout and "FAILED" in shown.stdout
    assert "ci-bot (authenticated)" in shown.stdout
    assert REGRESSION in shown.stdout


def test_usage_errors_record_nothing(gateway: str, ci_env: dict[str, str]) -> None:
    mlflow.set_experiment(f"promotion-{uuid.uuid4().hex[:8]}")
    name = f"usage-{uuid.uuid4().hex[:8]}"
    version = train_and_register(name, label_noise=0.0, seed=3)
    before = len(history(gateway, name))
    for args, message in [
        (["--to", "Production", "--require", "metrics.auc_roc >"], "invalid syntax"),
        (["--to", "Production", "--require", "__import__('os').system('id')"], "function calls"),
        (["--to", "Production", "--alias", "champion"], "exactly one of"),
        ([], "exactly one of"),
        (["--to", "Prod"], "Invalid Model Version stage"),
        (["--alias", "champion", "--archive-existing"], "--to STAGE only"),
        (["--alias", "latest"], "reserved"),
    ]:
        result = ledgerflow(ci_env, "promote", name, version, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    missing = ledgerflow(ci_env, "promote", name, "99", "--to", "Production")
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert len(history(gateway, name)) == before  # nothing was recorded
    down = ledgerflow(
        {**ci_env, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
        "promote",
        name,
        version,
        "--to",
        "Staging",
    )
    assert down.returncode == 3 and "cannot reach the gateway" in down.stderr


def test_the_workflow_validate_regression_promote(
    gateway: str, ci_env: dict[str, str], tmp_path: Path
) -> None:
    """The GitHub Actions flow, step by step against the server: its validation script loads
    each model through models:/ with pyfunc and logs val_accuracy; the gate then compares."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert list(workflow["jobs"]) == ["validate", "regression", "promote"]
    assert workflow["jobs"]["promote"]["needs"] == ["validate", "regression"]
    steps = " ".join(
        str(s.get("run", "")) for job in workflow["jobs"].values() for s in job["steps"]
    )
    assert "ledgerflow promote" in steps and "--require" in steps and "validate_model.py" in steps
    assert "mlflow.pyfunc.load_model" in VALIDATE.read_text()

    mlflow.set_experiment(f"promotion-{uuid.uuid4().hex[:8]}")
    name = f"wf-{uuid.uuid4().hex[:8]}"
    champion = train_and_register(name, label_noise=0.0, seed=4)
    assert ledgerflow(ci_env, "promote", name, champion, "--to", "Production").returncode == 0
    challenger = train_and_register(name, label_noise=0.02, seed=5)
    features, labels = data(123)
    validation = tmp_path / "validation.csv"
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(4)])
    frame["label"] = labels
    frame.to_csv(validation, index=False)

    def validate(uri: str) -> None:
        done = subprocess.run(
            [sys.executable, str(VALIDATE), "--model-uri", uri, "--data", str(validation)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **ci_env},
        )
        assert done.returncode == 0, done.stdout + done.stderr

    validate(f"models:/{name}/{challenger}")  # job "validate"
    validate(f"models:/{name}/Production")  # job "regression"
    promote_step = next(
        s
        for s in workflow["jobs"]["promote"]["steps"]
        if "ledgerflow promote" in str(s.get("run", ""))
    )
    requires = [
        "metrics.val_accuracy >= current.val_accuracy - 0.005",
        "signature",
        "tags.validated == 'true'",
    ]
    for condition in requires:
        assert condition in promote_step["run"]
    args = ["promote", name, challenger, "--to", "Production", "--archive-existing"]
    for condition in requires:
        args += ["--require", condition]
    gate = ledgerflow(ci_env, *args)
    assert gate.returncode in (0, 1), gate.stdout + gate.stderr
    (decision,) = [
        d for d in decisions(gateway, name) if d["payload"]["version"] == int(challenger)
    ]
    regression = decision["payload"]["conditions"][0]
    assert isinstance(regression["candidate"], float) and isinstance(regression["current"], float)
    assert decision["payload"]["passed"] is (
        regression["candidate"] >= regression["current"] - 0.005
    )
    assert decision["payload"]["conditions"][2]["candidate"] == "true"
    expected = "Production" if decision["payload"]["passed"] else "None"
    assert MlflowClient(gateway).get_model_version(name, challenger).current_stage == expected

    # and the alias flavour of the gate
    alias = ledgerflow(
        ci_env, "promote", name, champion, "--alias", "champion", "--require", "signature"
    )
    assert alias.returncode == 0, alias.stdout + alias.stderr
    assert MlflowClient(gateway).get_model_version_by_alias(name, "champion").version == champion
