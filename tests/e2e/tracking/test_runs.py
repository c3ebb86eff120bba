"""Runs and everything logged to them, through the real mlflow client, in both deployments."""

from __future__ import annotations

import math
import time

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput, Metric, Param, RunTag
from mlflow.exceptions import MlflowException, RestException

from tests.e2e.tracking.conftest import unique


def test_fluent_run_lifecycle(client: MlflowClient) -> None:
    mlflow.set_experiment(unique("fluent"))
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"depth": 3, "n": 10})
        mlflow.log_metric("loss", 0.9, step=0)
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metrics({"acc": 0.8, "f1": 0.7}, step=1)
        mlflow.set_tag("team", "a")
        mlflow.set_tags({"k1": "v1", "k2": "v2"})
        run_id = run.info.run_id
    fetched = client.get_run(run_id)
    assert fetched.info.run_name == "first"
    assert fetched.info.status == "FINISHED"
    assert fetched.info.end_time is not None
    assert fetched.data.params == {"lr": "0.1", "depth": "3", "n": "10"}
    assert fetched.data.metrics == {"loss": 0.5, "acc": 0.8, "f1": 0.7}
    assert fetched.data.tags["team"] == "a"
    assert fetched.data.tags["mlflow.runName"] == "first"
    assert fetched.data.tags["k2"] == "v2"
    assert fetched.info.artifact_uri.endswith(f"/{run_id}/artifacts")
    assert fetched.info.artifact_uri.startswith("mlflow-artifacts:/")
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5)]


def test_generated_name_and_rename(client: MlflowClient) -> None:
    experiment_id = client.create_experiment(unique("names"))
    run = client.create_run(experiment_id)
    assert run.info.run_name and run.data.tags["mlflow.runName"] == run.info.run_name
    client.set_tag(run.info.run_id, "mlflow.runName", "renamed-by-tag")
    assert client.get_run(run.info.run_id).info.run_name == "renamed-by-tag"
    client.update_run(run.info.run_id, name="renamed-by-update")
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == "renamed-by-update"
    assert fetched.data.tags["mlflow.runName"] == "renamed-by-update"
    with pytest.raises(RestException, match=r"Both 'run_name' argument and 'mlflow\.runName' tag"):
        client.create_run(experiment_id, run_name="a", tags={"mlflow.runName": "b"})


def test_latest_metric_is_max_of_step_timestamp_value(client: MlflowClient) -> None:
    run = client.create_run(client.create_experiment(unique("latest")))
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    # arrive out of order, as async logging sends them
    client.log_batch(run_id, metrics=[Metric("x", 3.0, now + 3, 3)])
    client.log_batch(run_id, metrics=[Metric("x", 9.0, now + 9, 1)])
    client.log_batch(run_id, metrics=[Metric("x", 2.0, now + 2, 3)])
    assert client.get_run(run_id).data.metrics["x"] == 3.0
    client.log_metric(run_id, "nan", float("nan"), timestamp=now, step=0)
    client.log_metric(run_id, "inf", float("inf"), timestamp=now, step=0)
    client.log_metric(run_id, "ninf", float("-inf"), timestamp=now, step=0)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] >= 1.7976931348623157e308
    assert metrics["ninf"] <= -1.7976931348623157e308
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)


def test_params_are_immutable(client: MlflowClient) -> None:
    run = client.create_run(client.create_experiment(unique("params")))
    run_id = run.info.run_id
    client.log_param(run_id, "lr", "0.1")
    client.log_param(run_id, "lr", "0.1")  # the same value again is fine
    with pytest.raises(MlflowException) as err:
        client.log_param(run_id, "lr", "0.2")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    # the client appends advice of its own after the server's message
    assert err.value.message.startswith(
        "INVALID_PARAMETER_VALUE: Changing param values is not allowed. Param with key='lr' was "
        f"already logged with value='0.1' for run ID='{run_id}'. Attempted logging new value "
        "'0.2'."
    )
    with pytest.raises(RestException) as err:
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("lr", "0.3")])
    assert (
        "Params were already logged='[{'key': 'lr', 'old_value': '0.1', 'new_value': '0.3'}]'"
        in (err.value.message)
    )
    # the refused batch logged nothing
    assert "m" not in client.get_run(run_id).data.metrics
    assert client.get_run(run_id).data.params == {"lr": "0.1"}


def test_writes_to_a_deleted_run_are_refused(client: MlflowClient) -> None:
    run = client.create_run(client.create_experiment(unique("deleted")))
    run_id = run.info.run_id
    client.log_metric(run_id, "kept", 1.0)
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    message = f"The run {run_id} must be in the 'active' state. Current state is deleted."
    for write in (
        lambda: client.log_metric(run_id, "x", 1.0),
        lambda: client.log_param(run_id, "p", "1"),
        lambda: client.set_tag(run_id, "t", "1"),
        lambda: client.log_batch(run_id, metrics=[Metric("x", 1.0, 1, 0)]),
        lambda: client.set_terminated(run_id),
    ):
        with pytest.raises(MlflowException) as err:
            write()
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        assert message in err.value.message
    client.restore_run(run_id)
    client.log_metric(run_id, "x", 2.0)
    assert client.get_run(run_id).data.metrics == {"kept": 1.0, "x": 2.0}


def test_tags_and_delete_tag(client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment(unique("tags"))).info.run_id
    client.set_tag(run_id, "a", "1")
    client.log_batch(run_id, tags=[RunTag("a", "2"), RunTag("b", "3")])
    assert {k: v for k, v in client.get_run(run_id).data.tags.items() if len(k) == 1} == {
        "a": "2",
        "b": "3",
    }
    client.delete_tag(run_id, "a")
    assert "a" not in client.get_run(run_id).data.tags
    with pytest.raises(RestException) as err:
        client.delete_tag(run_id, "a")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"No tag with name: a in run with id {run_id}" in err.value.message


def test_long_values_are_truncated_like_mlflow(client: MlflowClient) -> None:
    run_id = client.create_run(client.create_experiment(unique("long"))).info.run_id
    client.log_param(run_id, "p", "x" * 6001)
    client.set_tag(run_id, "t", "y" * 8001)
    run = client.get_run(run_id)
    assert len(run.data.params["p"]) == 6000
    assert len(run.data.tags["t"]) == 8000


def test_inputs_and_outputs(client: MlflowClient) -> None:
    import pandas as pd

    mlflow.set_experiment(unique("inputs"))
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]})
    dataset = mlflow.data.from_pandas(frame, name="train-set")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    client.log_outputs(run.info.run_id, [LoggedModelOutput(model_id="m-0123", step=3)])
    fetched = client.get_run(run.info.run_id)
    inputs = fetched.inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["train-set"]
    assert inputs[0].dataset.digest == dataset.digest
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"
    assert [(o.model_id, o.step) for o in fetched.outputs.model_outputs] == [("m-0123", 3)]
    found = client.search_runs(
        [fetched.info.experiment_id], filter_string="datasets.context = 'training'"
    )
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_metric_history_pages(client: MlflowClient, tracking_uri: str) -> None:
    import requests

    run_id = client.create_run(client.create_experiment(unique("history"))).info.run_id
    metrics = [Metric("h", float(i), 1_700_000_000_000 + i, i) for i in range(2500)]
    for start in range(0, 2500, 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    history = client.get_metric_history(run_id, "h")
    assert [m.step for m in history] == list(range(2500))
    url = f"{tracking_uri}/api/2.0/mlflow/metrics/get-history"
    page = requests.get(url, params={"run_id": run_id, "metric_key": "h", "max_results": 1000})
    body = page.json()
    assert len(body["metrics"]) == 1000 and body["next_page_token"]
    steps = [m["step"] for m in body["metrics"]]
    while "next_page_token" in body:
        body = requests.get(
            url,
            params={
                "run_id": run_id,
                "metric_key": "h",
                "max_results": 1000,
                "page_token": body["next_page_token"],
            },
        ).json()
        steps += [m["step"] for m in body["metrics"]]
    assert steps == list(range(2500))


def test_bulk_interval_samples_on_the_server(client: MlflowClient, tracking_uri: str) -> None:
    import requests

    experiment_id = client.create_experiment(unique("sampled"))
    runs = [client.create_run(experiment_id).info.run_id for _ in range(2)]
    for run_id in runs:
        for start in range(0, 5000, 1000):
            client.log_batch(
                run_id,
                metrics=[
                    Metric("s", float(i), 1_700_000_000_000 + i, i)
                    for i in range(start, start + 1000)
                ],
            )
    for prefix in ("/api/2.0", "/ajax-api/2.0"):
        response = requests.get(
            f"{tracking_uri}{prefix}/mlflow/metrics/get-history-bulk-interval",
            params={"run_ids": runs, "metric_key": "s", "max_results": 100},
        )
        assert response.status_code == 200, response.text
        points = response.json()["metrics"]
        for run_id in runs:
            steps = [p["step"] for p in points if p["run_id"] == run_id]
            assert len(steps) == 100
            assert steps[0] == 0 and steps[-1] == 4999
            assert steps == sorted(steps)
        ranged = requests.get(
            f"{tracking_uri}{prefix}/mlflow/metrics/get-history-bulk-interval",
            params={
                "run_ids": runs[:1],
                "metric_key": "s",
                "max_results": 10,
                "start_step": 100,
                "end_step": 200,
            },
        ).json()["metrics"]
        assert len(ranged) == 10 and ranged[0]["step"] == 100 and ranged[-1]["step"] == 200


def test_search_runs(client: MlflowClient) -> None:
    experiment_id = client.create_experiment(unique("search"))
    ids = []
    for i in range(6):
        run = client.create_run(experiment_id, start_time=1_700_000_000_000 + i)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 1, 0)],
            params=[Param("model", "cnn" if i % 2 else "mlp")],
            tags=[RunTag("parity", str(i % 2))],
        )
        ids.append(run.info.run_id)
    client.delete_run(ids[5])
    found = client.search_runs(
        [experiment_id],
        "metrics.acc > 0.05 and params.model = 'cnn'",
        order_by=["metrics.acc DESC"],
    )
    assert [r.info.run_id for r in found] == [ids[3], ids[1]]
    newest_first = client.search_runs([experiment_id])
    assert [r.info.run_id for r in newest_first] == ids[4::-1]
    frame = mlflow.search_runs([experiment_id], filter_string="tags.parity = '0'")
    assert sorted(frame["run_id"]) == sorted([ids[0], ids[2], ids[4]])
    paged = client.search_runs([experiment_id], max_results=2, order_by=["metrics.acc ASC"])
    assert [r.info.run_id for r in paged] == ids[:2] and paged.token
    assert [
        r.info.run_id
        for r in client.search_runs(
            [experiment_id], max_results=2, order_by=["metrics.acc ASC"], page_token=paged.token
        )
    ] == ids[2:4]
    by_id = client.search_runs([experiment_id], f"attributes.run_id IN ('{ids[0]}', '{ids[2]}')")
    assert sorted(r.info.run_id for r in by_id) == sorted([ids[0], ids[2]])
