"""16 client processes log 1,000 points each, to their own runs and to one shared run; every
point is in the history exactly once, also when a batch is sent twice (a client retry)."""

from __future__ import annotations

import multiprocessing
import os

from mlflow import MlflowClient

from tests.e2e.tracking.conftest import unique

PROCESSES = 16
POINTS = 1000
BATCH = 250


def _log(args: tuple[str, str, str, int]) -> None:
    tracking_uri, own_run, shared_run, worker = args
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=tracking_uri)
    base = 1_700_000_000_000
    for start in range(0, POINTS, BATCH):
        own = [Metric("loss", float(i), base + i, i) for i in range(start, start + BATCH)]
        shared = [Metric(f"w{worker}", float(i), base + i, i) for i in range(start, start + BATCH)]
        client.log_batch(own_run, metrics=own)
        client.log_batch(shared_run, metrics=shared)
        if start == 0:  # the same batch again, exactly as a retrying client would send it
            client.log_batch(own_run, metrics=own)
            client.log_batch(shared_run, metrics=shared)


def test_sixteen_processes_log_every_point_exactly_once(
    client: MlflowClient, tracking_uri: str
) -> None:
    experiment_id = client.create_experiment(unique("concurrent"))
    own_runs = [client.create_run(experiment_id).info.run_id for _ in range(PROCESSES)]
    shared_run = client.create_run(experiment_id).info.run_id
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        pool.map(_log, [(tracking_uri, own_runs[w], shared_run, w) for w in range(PROCESSES)])

    expected = list(range(POINTS))
    for run_id in own_runs:
        history = client.get_metric_history(run_id, "loss")
        assert sorted(m.step for m in history) == expected
    shared = client.get_run(shared_run)
    assert set(shared.data.metrics) == {f"w{w}" for w in range(PROCESSES)}
    for worker in range(PROCESSES):
        history = client.get_metric_history(shared_run, f"w{worker}")
        assert sorted(m.step for m in history) == expected
        assert shared.data.metrics[f"w{worker}"] == float(POINTS - 1)
