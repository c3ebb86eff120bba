"""MLflow 3 models end to end with the real client, on every artifact store: log an sklearn model
with a signature and an input example, register it while logging and again from runs:/, and load
it back through models:/name/version, models:/name/latest and models:/name@alias."""

from __future__ import annotations

import json
import uuid

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from tests.e2e.artifacts.conftest import Deployment, stored_events


def test_log_register_and_load_models(client: MlflowClient, deployment: Deployment) -> None:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(features, labels)
    expected = model.predict_proba(features[:20])
    name = f"clf-{uuid.uuid4().hex[:8]}"

    mlflow.set_experiment(f"models-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("accuracy", float(model.score(features, labels)))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, model.predict(features)),
            input_example=features[:3],
            registered_model_name=name,
        )
    assert str(info.registered_model_version) == "1"
    logged = client.get_logged_model(info.model_id)
    assert logged.status.to_int() == 2  # READY
    assert logged.source_run_id == run.info.run_id
    assert {"name": name, "version": 1} in json.loads(logged.tags["mlflow.modelVersions"])
    # the model's files are artifact events of the logged model, in the audit log
    recorded = {
        e["payload"]["path"].rsplit("/", 1)[-1]
        for e in stored_events(deployment.database_url, info.model_id)
    }
    assert {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml"} <= recorded

    second = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert second.version == "2"
    version = client.get_model_version(name, "2")
    # (the 3.17.2 client does not read model_id back from the proto; the source names it)
    assert version.run_id == run.info.run_id and version.source == f"models:/{info.model_id}"
    client.set_registered_model_alias(name, "champion", "2")
    client.transition_model_version_stage(name, "1", "Production")

    for uri in (
        f"models:/{name}/1",
        f"models:/{name}/latest",
        f"models:/{name}@champion",
        f"models:/{name}/Production",
        f"runs:/{run.info.run_id}/model",
        f"models:/{info.model_id}",
    ):
        loaded = mlflow.sklearn.load_model(uri)
        np.testing.assert_array_equal(loaded.predict_proba(features[:20]), expected)
        pyfunc = mlflow.pyfunc.load_model(uri)
        np.testing.assert_array_equal(pyfunc.predict(features[:20]), model.predict(features[:20]))
    loaded_info = mlflow.models.get_model_info(f"models:/{name}/1")
    assert loaded_info.signature is not None
    assert loaded_info.saved_input_example_info is not None
