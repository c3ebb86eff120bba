"""MLflow 3 logged models through the real client, in both deployments."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from tests.e2e.tracking.conftest import unique


def test_logged_model_lifecycle(client: MlflowClient) -> None:
    experiment_id = client.create_experiment(unique("models"))
    run_id = client.create_run(experiment_id).info.run_id
    model = client.create_logged_model(
        experiment_id,
        name="model",
        source_run_id=run_id,
        tags={"stage": "draft"},
        params={"lr": "0.1"},
        model_type="sklearn",
    )
    assert model.model_id.startswith("m-")
    assert model.status == LoggedModelStatus.PENDING
    assert model.artifact_location == (
        f"mlflow-artifacts:/{experiment_id}/models/{model.model_id}/artifacts"
    )
    assert model.params == {"lr": "0.1"} and model.tags == {"stage": "draft"}

    finalized = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert finalized.status == LoggedModelStatus.READY
    client.set_logged_model_tags(model.model_id, {"stage": "final", "owner": "ana"})
    client.delete_logged_model_tag(model.model_id, "owner")
    client.log_model_params(model.model_id, {"depth": "3"})
    client.log_metric(run_id, "acc", 0.9, step=2, model_id=model.model_id)
    fetched = client.get_logged_model(model.model_id)
    assert fetched.tags == {"stage": "final"}
    assert fetched.params == {"lr": "0.1", "depth": "3"}
    assert [(m.key, m.value, m.step, m.run_id) for m in fetched.metrics] == [
        ("acc", 0.9, 2, run_id)
    ]
    with pytest.raises(MlflowException, match="No tag with key 'owner'"):
        client.delete_logged_model_tag(model.model_id, "owner")

    other = client.create_logged_model(experiment_id, name="other")
    found = client.search_logged_models([experiment_id], filter_string="name = 'model'")
    assert [m.model_id for m in found] == [model.model_id]
    newest_first = client.search_logged_models([experiment_id])
    assert [m.model_id for m in newest_first] == [other.model_id, model.model_id]
    by_metric = client.search_logged_models(
        [experiment_id], order_by=[{"field_name": "metrics.acc", "ascending": False}]
    )
    assert by_metric[0].model_id == model.model_id
    page = client.search_logged_models([experiment_id], max_results=1)
    assert len(page) == 1 and page.token
    rest = client.search_logged_models([experiment_id], max_results=1, page_token=page.token)
    assert [m.model_id for m in rest] == [model.model_id]

    client.delete_logged_model(other.model_id)
    with pytest.raises(MlflowException, match=f"Logged model with ID '{other.model_id}' not found"):
        client.get_logged_model(other.model_id)
    assert [m.model_id for m in client.search_logged_models([experiment_id])] == [model.model_id]


def test_logged_model_errors(client: MlflowClient) -> None:
    with pytest.raises(MlflowException, match="No Experiment with id=424242 exists"):
        client.create_logged_model("424242")
    experiment_id = client.create_experiment(unique("badmodels"))
    with pytest.raises(MlflowException, match="Invalid model name"):
        client.create_logged_model(experiment_id, name="a/b")
    with pytest.raises(MlflowException, match="not found"):
        client.get_logged_model("m-" + "0" * 32)
