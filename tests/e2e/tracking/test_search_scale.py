"""Search over 2,000 runs logged through the mlflow client: filter, order and paging results
equal a plain-Python evaluation of the same query over the same data (tests/support)."""

from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag, ViewType

from tests.e2e.tracking.conftest import unique
from tests.support import search_oracle

RUNS = 2000
BASE = 1_700_000_000_000


def _make_run(client: MlflowClient, experiment_id: str, i: int, rng: random.Random) -> dict:
    start = BASE + i // 3  # ties in start_time, broken by run_id
    run = client.create_run(experiment_id, start_time=start, run_name=f"run-{i:04d}")
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}
    tags: dict[str, str] = {"mlflow.runName": f"run-{i:04d}"}
    if rng.random() < 0.9:
        metrics["acc"] = float("nan") if rng.random() < 0.03 else round(rng.random(), 3)
    if rng.random() < 0.7:
        metrics["loss"] = round(rng.uniform(0, 5), 2)
    if rng.random() < 0.85:
        params["model"] = rng.choice(["cnn", "mlp", "rnn", "CNN-large"])
    params["lr"] = rng.choice(["0.1", "0.01", "0.001"])
    if rng.random() < 0.6:
        tags["team"] = rng.choice(["vision", "nlp", "speech"])
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, v, BASE, 0) for k, v in metrics.items()],
        params=[Param(k, v) for k, v in params.items()],
        tags=[RunTag(k, v) for k, v in tags.items() if k != "mlflow.runName"],
    )
    deleted = rng.random() < 0.05
    if deleted:
        client.delete_run(run.info.run_id)
    return {
        "run_id": run.info.run_id,
        "experiment_id": int(experiment_id),
        "run_name": f"run-{i:04d}",
        "user_id": run.info.user_id,
        "status": "RUNNING",
        "start_time": start,
        "end_time": None,
        "artifact_uri": run.info.artifact_uri,
        "lifecycle_stage": "deleted" if deleted else "active",
        "params": params,
        "tags": tags,
        "metrics": metrics,
        "datasets": [],
    }


QUERIES: list[tuple[str, list[str], str]] = [
    ("", [], "ACTIVE_ONLY"),
    ("metrics.acc > 0.5", ["metrics.acc DESC"], "ACTIVE_ONLY"),
    ("metrics.acc != 0.5", ["metrics.acc ASC"], "ALL"),
    ("params.model = 'cnn' AND metrics.loss < 2.5", ["metrics.loss ASC"], "ACTIVE_ONLY"),
    ("params.model LIKE 'c%'", ["params.model DESC", "metrics.acc DESC"], "ACTIVE_ONLY"),
    ("params.model ILIKE 'c%'", ["params.lr ASC"], "ACTIVE_ONLY"),
    ("tags.team = 'nlp'", ["attributes.start_time ASC"], "ALL"),
    ("tags.team IS NULL", ["tags.team ASC"], "ACTIVE_ONLY"),
    ("params.model IS NOT NULL AND tags.team != 'vision'", ["run_name DESC"], "DELETED_ONLY"),
    ("attributes.run_name LIKE 'run-1%'", ["metrics.loss DESC"], "ACTIVE_ONLY"),
    ("metrics.loss >= 1 AND metrics.loss <= 3", [], "ALL"),
    ("attributes.start_time > 1700000000300", ["metrics.acc ASC", "params.lr DESC"], "ACTIVE_ONLY"),
]


def _page_through(client: MlflowClient, experiment_ids: list[str], query: tuple, size: int):
    filter_string, order_by, view = query
    ids: list[str] = []
    token = None
    for _ in range(RUNS // size + 2):  # bounded: one page more than the data can fill
        page = client.search_runs(
            experiment_ids,
            filter_string,
            run_view_type=ViewType.from_string(view.lower()),
            max_results=size,
            order_by=order_by,
            page_token=token,
        )
        ids += [run.info.run_id for run in page]
        token = page.token
        if not token:
            return ids
    raise AssertionError("paging did not end")


def test_search_matches_a_plain_python_evaluation(client: MlflowClient) -> None:
    rng = random.Random(2024)
    experiments = [client.create_experiment(unique("scale")) for _ in range(2)]
    plan = [(experiments[i % 2], i, random.Random(rng.random())) for i in range(RUNS)]
    with ThreadPoolExecutor(8) as pool:
        records: list[dict[str, Any]] = list(pool.map(lambda p: _make_run(client, *p), plan))
    # the oracle gets the latest metrics exactly as logged (NaN stays NaN)
    assert sum(1 for r in records if "acc" in r["metrics"] and math.isnan(r["metrics"]["acc"]))
    experiment_numbers = [int(e) for e in experiments]
    for index, query in enumerate(QUERIES):
        filter_string, order_by, view = query
        expected = search_oracle.search_runs(
            records, experiment_numbers, filter_string, order_by, view
        )
        size = (37, 500, 1000)[index % 3]
        got = _page_through(client, experiments, query, size)
        assert got == expected, f"query {query} (page size {size})"
    # mlflow.search_runs (pandas) pages in 10,000s: one call returns everything
    everything = client.search_runs(experiments, max_results=50000)
    assert len(everything) == sum(1 for r in records if r["lifecycle_stage"] == "active")
