"""Experiments through the real mlflow client, against both deployments."""

from __future__ import annotations

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException, RestException

from tests.e2e.tracking.conftest import unique


def test_default_experiment_exists(client: MlflowClient) -> None:
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"
    assert default.artifact_location == "mlflow-artifacts:/0"
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_set_experiment_creates_then_reads_back(client: MlflowClient) -> None:
    name = unique("exp")
    experiment = mlflow.set_experiment(name)
    assert experiment.name == name
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment.experiment_id}"
    again = mlflow.set_experiment(name)
    assert again.experiment_id == experiment.experiment_id


def test_create_with_tags_and_get(client: MlflowClient) -> None:
    name = unique("tagged")
    experiment_id = client.create_experiment(name, tags={"team": "vision", "tier": "1"})
    experiment = client.get_experiment(experiment_id)
    assert experiment.tags == {"team": "vision", "tier": "1"}
    assert experiment.creation_time <= experiment.last_update_time


def test_duplicate_name_is_refused(client: MlflowClient) -> None:
    name = unique("dup")
    client.create_experiment(name)
    with pytest.raises(RestException) as err:
        client.create_experiment(name)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert f"Experiment(name={name}) already exists." in err.value.message


def test_missing_experiments(client: MlflowClient) -> None:
    assert client.get_experiment_by_name(unique("nope")) is None
    with pytest.raises(RestException) as err:
        client.get_experiment("987654")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "No Experiment with id=987654 exists" in err.value.message
    with pytest.raises(MlflowException, match="Invalid experiment ID 'abc'"):
        client.get_experiment("abc")


def test_rename_delete_restore(client: MlflowClient, tracking_uri: str) -> None:
    experiment_id = client.create_experiment(unique("life"))
    run = client.create_run(experiment_id)
    new_name = unique("renamed")
    client.rename_experiment(experiment_id, new_name)
    assert client.get_experiment(experiment_id).name == new_name

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.get_experiment_by_name(new_name).lifecycle_stage == "deleted"
    # INVALID_STATE is an HTTP 500 in MLflow, which its client retries rather than report, so
    # the answer is checked on the wire.
    refused = requests.post(
        f"{tracking_uri}/api/2.0/mlflow/experiments/update",
        json={"experiment_id": experiment_id, "new_name": unique("again")},
        timeout=30,
    )
    assert refused.status_code == 500
    assert refused.json() == {
        "error_code": "INVALID_STATE",
        "message": "Cannot rename a non-active experiment.",
    }
    with pytest.raises(RestException, match="must be in the 'active' state"):
        client.create_run(experiment_id)

    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_experiment_tags(client: MlflowClient) -> None:
    experiment_id = client.create_experiment(unique("tags"))
    client.set_experiment_tag(experiment_id, "owner", "ana")
    client.set_experiment_tag(experiment_id, "owner", "bo")
    assert client.get_experiment(experiment_id).tags["owner"] == "bo"
    client.delete_experiment_tag(experiment_id, "owner")
    assert "owner" not in client.get_experiment(experiment_id).tags
    with pytest.raises(RestException) as err:
        client.delete_experiment_tag(experiment_id, "owner")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"No tag with name: owner in experiment with id {experiment_id}" in err.value.message
    with pytest.raises(RestException, match="exceeds the maximum length of 20000"):
        client.set_experiment_tag(experiment_id, "big", "x" * 20001)


def test_search_experiments(client: MlflowClient) -> None:
    prefix = unique("search")
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"i": str(i)}) for i in range(5)]
    client.delete_experiment(ids[4])
    found = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"]
    )
    assert [e.name for e in found] == [f"{prefix}-{i}" for i in (3, 2, 1, 0)]
    deleted = client.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}-%'"
    )
    assert [e.experiment_id for e in deleted] == [ids[4]]
    tagged = client.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.i = '2'")
    assert [e.experiment_id for e in tagged] == [ids[2]]
    # default order: newest first; paging with max_results
    page = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", max_results=2)
    assert [e.experiment_id for e in page] == [ids[3], ids[2]]
    assert page.token
    rest = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", max_results=2, page_token=page.token
    )
    assert [e.experiment_id for e in rest] == [ids[1], ids[0]]
    with pytest.raises(MlflowException, match="Invalid clause"):
        client.search_experiments(filter_string="name = 'a' OR name = 'b'")
