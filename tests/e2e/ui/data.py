"""Fill a ledgerflow server with what the UI tests look at, through the unchanged mlflow client:
experiments with runs (params, tags, metric histories), one run with a 1,000,000-point metric,
artifacts, and a registered model whose versions move through stages and aliases, with a
promotion decision and a rejected request in its history."""

from __future__ import annotations

import contextlib
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

MODEL = "ui-classifier"
LONG_METRIC = "train_loss"
LONG_POINTS = 1_000_000
BATCH = 1000  # MLflow's log-batch limit of metrics per request


@dataclass
class Seeded:
    """What was created, for the tests to find it again."""

    url: str
    vision: str = ""
    nlp: str = ""
    empty: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id
    long_run: str = ""
    long_points: int = 0
    long_seconds: float = 0.0
    history_seqs: dict[str, int] = field(default_factory=dict)  # moment -> audit seq


def _history(client: MlflowClient, run_id: str, seed: int, steps: int = 200) -> None:
    now = int(time.time() * 1000) - steps * 1000
    metrics = []
    for step in range(steps):
        loss = 2.0 * math.exp(-step / (40 + 10 * seed)) + 0.05 * seed + 0.02 * math.sin(step / 3)
        acc = 1.0 - loss / 2.5
        metrics += [
            Metric("loss", loss, now + step * 1000, step),
            Metric("acc", acc, now + step * 1000, step),
        ]
    for start in range(0, len(metrics), BATCH):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH])


def seed_tracking(client: MlflowClient, seeded: Seeded) -> None:
    seeded.vision = client.create_experiment("ui-vision", tags={"team": "vision"})
    seeded.nlp = client.create_experiment("ui-nlp")
    seeded.empty = client.create_experiment("ui-empty")
    plan = [
        ("resnet-adam-1e-2", "adam", "0.01", 0, "FINISHED"),
        ("resnet-adam-1e-3", "adam", "0.001", 1, "FINISHED"),
        ("resnet-sgd-1e-1", "sgd", "0.1", 2, "FINISHED"),
        ("resnet-sgd-1e-2", "sgd", "0.01", 3, "FAILED"),
        ("vit-adam-1e-3", "adam", "0.001", 4, "FINISHED"),
    ]
    for name, optimizer, lr, seed, status in plan:
        run = client.create_run(seeded.vision, run_name=name, tags={"team": "vision"})
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=[
                Param("optimizer", optimizer),
                Param("lr", lr),
                Param("batch_size", "64" if seed % 2 else "128"),
                Param("arch", name.split("-")[0]),
            ],
            tags=[RunTag("stage", "sweep"), RunTag("seed", str(seed))],
        )
        _history(client, run_id, seed)
        client.set_terminated(run_id, status=status)
        seeded.runs[name] = run_id
    for i in range(3):
        run = client.create_run(seeded.nlp, run_name=f"bert-{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("f1", 0.7 + i / 20, int(time.time() * 1000), 0)],
            params=[Param("layers", str(6 * (i + 1)))],
        )
        client.set_terminated(run.info.run_id)
        seeded.runs[f"bert-{i}"] = run.info.run_id

    first = seeded.runs["resnet-adam-1e-2"]
    client.log_text(first, "trained for 200 steps\n", "notes/summary.txt")
    client.log_dict(first, {"optimizer": "adam", "lr": 0.01}, "config.json")
    client.log_text(first, "a,b\n1,2\n", "data/sample.csv")


def seed_long_metric(client: MlflowClient, seeded: Seeded, points: int = LONG_POINTS) -> None:
    """One run with a ``points``-point metric, logged with log_batch in 1,000-point batches
    from a few threads (each request answers once projected)."""
    run = client.create_run(seeded.vision, run_name="long-run", tags={"team": "vision"})
    run_id = run.info.run_id
    client.log_param(run_id, "optimizer", "adam")
    start_ms = int(time.time() * 1000) - points  # one point per millisecond, ending now

    def batch(first: int) -> None:
        client.log_batch(
            run_id,
            metrics=[
                Metric(
                    LONG_METRIC,
                    1.0 / (1.0 + step / 20_000) + 0.05 * math.sin(step / 5_000),
                    start_ms + step,
                    step,
                )
                for step in range(first, min(first + BATCH, points))
            ],
        )

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(batch, range(0, points, BATCH)))
    seeded.long_seconds = time.monotonic() - began
    client.set_terminated(run_id)
    seeded.long_run = run_id
    seeded.long_points = points
    seeded.runs["long-run"] = run_id


def _last_seq(url: str) -> int:
    entries = httpx.get(f"{url}/api/ledgerflow/registry/models/{MODEL}/history").json()["entries"]
    return int(entries[-1]["seq"])


def seed_registry(client: MlflowClient, seeded: Seeded) -> None:
    """v1 → Staging → Production; v2 → Staging with alias `challenger`; alias `champion` on v1,
    then a promotion decision and v2 → Production (archiving v1), champion moved to v2."""
    url = seeded.url
    client.create_registered_model(MODEL, description="Classifies images.")
    for name in ("resnet-adam-1e-2", "resnet-adam-1e-3"):
        run_id = seeded.runs[name]
        client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
    client.transition_model_version_stage(MODEL, "1", "Staging")
    client.transition_model_version_stage(MODEL, "1", "Production")
    client.set_registered_model_alias(MODEL, "champion", "1")
    seeded.history_seqs["v1 production"] = _last_seq(url)
    client.transition_model_version_stage(MODEL, "2", "Staging")
    client.set_registered_model_alias(MODEL, "challenger", "2")
    with contextlib.suppress(MlflowException):  # refused (no version 9), kept in the history
        client.set_registered_model_alias(MODEL, "champion", "9")
    decision = httpx.post(
        f"{url}/api/ledgerflow/registry/promotions",
        auth=("release-bot", "unused"),  # authentication is off: a self-reported actor
        json={
            "name": MODEL,
            "version": 2,
            "target_stage": "Production",
            "replaced_version": 1,
            "passed": True,
            "conditions": [
                {
                    "expression": "metrics.acc >= current.acc",
                    "candidate": 0.93,
                    "current": 0.91,
                    "passed": True,
                },
                {"expression": "signature", "passed": True, "detail": "MLmodel has a signature"},
            ],
        },
    )
    decision.raise_for_status()
    client.transition_model_version_stage(MODEL, "2", "Production", archive_existing_versions=True)
    client.set_registered_model_alias(MODEL, "champion", "2")
    client.delete_registered_model_alias(MODEL, "challenger")
    seeded.history_seqs["v2 production"] = _last_seq(url)


def seed(url: str, long_points: int = LONG_POINTS) -> Seeded:
    client = MlflowClient(tracking_uri=url)
    seeded = Seeded(url=url)
    seed_tracking(client, seeded)
    seed_long_metric(client, seeded, long_points)
    seed_registry(client, seeded)
    return seeded
