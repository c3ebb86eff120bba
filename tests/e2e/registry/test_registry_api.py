"""Every registry endpoint through the real mlflow client, with MLflow's errors, both modes."""

from __future__ import annotations

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from tests.e2e.tracking.conftest import unique


def _versions(client: MlflowClient, name: str, count: int) -> tuple[str, list[str]]:
    experiment_id = client.create_experiment(unique("reg"))
    run_id = client.create_run(experiment_id).info.run_id
    client.create_registered_model(name, tags={"team": "ml"}, description="first model")
    versions = [
        client.create_model_version(
            name, f"runs:/{run_id}/model", run_id=run_id, tags={"n": str(i)}
        ).version
        for i in range(count)
    ]
    return run_id, versions


def test_models_versions_stages_aliases(client: MlflowClient) -> None:
    name = unique("model")
    run_id, versions = _versions(client, name, 3)
    assert versions == ["1", "2", "3"]
    model = client.get_registered_model(name)
    assert model.description == "first model" and model.tags == {"team": "ml"}

    v1 = client.get_model_version(name, "1")
    assert v1.run_id == run_id and v1.current_stage == "None" and v1.tags == {"n": "0"}
    assert v1.source == f"runs:/{run_id}/model"
    uri = client.get_model_version_download_uri(name, "1")
    assert uri == f"{client.get_run(run_id).info.artifact_uri}/model"

    client.transition_model_version_stage(name, "1", "production")
    client.transition_model_version_stage(name, "2", "Staging")
    moved = client.transition_model_version_stage(
        name, "3", "Production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Staging": "2", "Production": "3"}
    assert [v.version for v in client.get_latest_versions(name, ["Staging"])] == ["2"]

    client.set_registered_model_alias(name, "champion", "3")
    client.set_registered_model_alias(name, "challenger", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "3"
    client.set_registered_model_alias(name, "champion", "2")  # moving an alias
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert set(client.get_model_version(name, "2").aliases) == {"champion", "challenger"}
    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {"champion": "2"}

    client.set_model_version_tag(name, "2", "validated", "true")
    client.delete_model_version_tag(name, "2", "n")
    assert client.get_model_version(name, "2").tags == {"validated": "true"}
    client.update_model_version(name, "2", description="the good one")
    assert client.get_model_version(name, "2").description == "the good one"
    client.set_registered_model_tag(name, "owner", "ana")
    client.delete_registered_model_tag(name, "team")
    client.update_registered_model(name, description="updated")
    model = client.get_registered_model(name)
    assert model.tags == {"owner": "ana"} and model.description == "updated"

    # numbers only grow: a deleted version's number is never reused
    client.delete_model_version(name, "3")
    with pytest.raises(RestException, match=r"Model Version \(name=.*, version=3\) not found"):
        client.get_model_version(name, "3")
    assert client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id).version == "4"


def test_rename_search_delete(client: MlflowClient) -> None:
    prefix = unique("search")
    for i in range(3):
        _versions(client, f"{prefix}-{i}", 2)
    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")
    assert [m.name for m in found] == [f"{prefix}-{i}" for i in range(3)]
    assert all(m.latest_versions for m in found)
    page = client.search_registered_models(
        filter_string=f"name LIKE '{prefix}-%'", max_results=2, order_by=["name DESC"]
    )
    assert [m.name for m in page] == [f"{prefix}-2", f"{prefix}-1"] and page.token
    versions = client.search_model_versions(f"name = '{prefix}-1'")
    assert sorted(v.version for v in versions) == ["1", "2"]

    client.rename_registered_model(f"{prefix}-0", f"{prefix}-renamed")
    assert client.get_model_version(f"{prefix}-renamed", "2").name == f"{prefix}-renamed"
    with pytest.raises(RestException) as err:
        client.get_registered_model(f"{prefix}-0")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.delete_registered_model(f"{prefix}-renamed")
    assert [
        m.name for m in client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'")
    ] == [f"{prefix}-1", f"{prefix}-2"]


def test_registry_errors(client: MlflowClient, tracking_uri: str) -> None:
    name = unique("errs")
    run_id, _ = _versions(client, name, 1)
    with pytest.raises(MlflowException) as err:
        client.create_registered_model(name)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert f"Registered Model (name={name}) already exists." in err.value.message
    with pytest.raises(MlflowException, match="Names cannot contain '/' or ':'"):
        client.create_registered_model("a/b")
    with pytest.raises(MlflowException, match=r"'latest' alias name .* is reserved"):
        client.set_registered_model_alias(name, "latest", "1")
    with pytest.raises(MlflowException, match="Version alias name 'v1' is reserved"):
        client.set_registered_model_alias(name, "v1", "1")
    with pytest.raises(MlflowException, match=r"Model Version \(name=.*, version=9\) not found"):
        client.set_registered_model_alias(name, "prod", "9")
    with pytest.raises(MlflowException, match="Registered model alias nope not found"):
        client.get_model_version_by_alias(name, "nope")
    with pytest.raises(MlflowException, match="Invalid Model Version stage: Prod"):
        client.transition_model_version_stage(name, "1", "Prod")
    with pytest.raises(MlflowException, match="Registered Model with name=absent-model not found"):
        client.get_registered_model("absent-model")
    with pytest.raises(MlflowException, match="The run_id request parameter must identify"):
        client.create_model_version(name, "runs:/0123456789abcdef/model", run_id=run_id)
    wrong = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/model-versions/get",
        params={"name": name, "version": "x"},
        timeout=30,
    )
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "Parameter 'version' must be an integer, got 'x'."
    archived = requests.post(
        f"{tracking_uri}/api/2.0/mlflow/model-versions/transition-stage",
        json={"name": name, "version": "1", "stage": "Archived", "archive_existing_versions": True},
        timeout=30,
    )
    assert archived.status_code == 500
    assert archived.json()["error_code"] == "INTERNAL_ERROR"
    assert "cannot archive existing model versions" in archived.json()["message"]
    # GET fallback of get-latest-versions, as older clients use
    fallback = requests.get(
        f"{tracking_uri}/api/2.0/mlflow/registered-models/get-latest-versions",
        params={"name": name},
        timeout=30,
    )
    assert fallback.status_code == 200 and fallback.json()["model_versions"][0]["version"] == "1"
