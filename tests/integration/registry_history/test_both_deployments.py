"""The history and as-of endpoints in both deployments (embedded default and cluster mode with
Kafka and the faust projector): the registry as of every observed moment equals what the mlflow
client saw live, and the history lists every event with its verdict."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.e2e.tracking.conftest import client, tracking_uri, unique  # noqa: F401 (fixtures)
from tests.integration.registry_history.support import Moment, check_as_of, history, observe


def test_as_of_equals_live_in_both_deployments(client: MlflowClient, tracking_uri: str) -> None:  # noqa: F811
    url, name = tracking_uri, unique("both")
    moments: list[Moment] = []
    client.create_registered_model(name, description="v0")
    moments.append(observe(url, client, name, "created"))
    for n in range(3):
        client.create_model_version(name, f"s3://bucket/{name}/{n}", tags={"n": str(n)})
    moments.append(observe(url, client, name, "three versions"))
    client.transition_model_version_stage(name, "1", "Production")
    client.set_registered_model_alias(name, "champion", "1")
    moments.append(observe(url, client, name, "v1 champion in production"))
    client.transition_model_version_stage(name, "3", "Production", archive_existing_versions=True)
    client.set_registered_model_alias(name, "champion", "3")
    client.delete_model_version(name, "2")
    client.update_registered_model(name, description="v3 serves")
    moments.append(observe(url, client, name, "v3 champion, v2 deleted"))
    with pytest.raises(MlflowException):
        client.set_registered_model_alias(name, "champion", "2")  # refused: deleted
    moments.append(observe(url, client, name, "after a refused alias"))
    check_as_of(url, moments)

    entries = history(url, name)["entries"]
    assert [e["verdict"] for e in entries].count("rejected") == 1
    refused = next(e for e in entries if e["verdict"] == "rejected")
    assert (
        refused["error_code"] == "RESOURCE_DOES_NOT_EXIST" and refused["before"] == refused["after"]
    )
    assert all(e["actor"]["kind"] == "anonymous" for e in entries)
    v2 = history(url, name, 2)["entries"]
    deleted = next(e for e in v2 if e["event_type"] == "model_version.deleted")
    assert v2[-1]["verdict"] == "rejected"
    assert deleted["changes"] == [
        {"field": "version", "version": 2, "before": "live", "after": "deleted"}
    ]
