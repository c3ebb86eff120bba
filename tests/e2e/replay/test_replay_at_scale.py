"""The history is the truth: fill a cluster deployment through the mlflow client (experiments,
200 runs, 1,000,000 metric points, params, tags, artifacts, a registry with stages and aliases),
rebuild every read model with `ledgerflow replay` from Kafka and then from the audit log while
writes go on, and find the rebuilt schemas identical and every write present."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from tests.e2e.deployments import cluster_deployment, cluster_env
from tests.e2e.tracking.conftest import _database

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

RUNS = 200
POINTS = 1_000_000
PER_RUN = POINTS // RUNS


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, pg_server: str, kafka_bootstrap: str
) -> Iterator[tuple[str, dict[str, str]]]:
    env = cluster_env(_database(pg_server), kafka_bootstrap)
    with cluster_deployment(
        tmp_path_factory.mktemp("replay"), env["LEDGERFLOW_DATABASE_URL"], kafka_bootstrap, env
    ) as url:
        yield url, env


def fill(client: MlflowClient, tmp_path: Path) -> dict[str, int]:
    experiments = [client.create_experiment(f"scale-{uuid.uuid4().hex[:8]}") for _ in range(3)]
    base = 1_700_000_000_000

    def one_run(i: int) -> str:
        run = client.create_run(experiments[i % 3], run_name=f"run-{i}")
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=[Param("lr", str(0.001 * (i % 7))), Param("depth", str(i % 5))],
            tags=[RunTag("team", ("a", "b", "c")[i % 3])],
        )
        for start in range(0, PER_RUN, 1000):
            client.log_batch(
                run_id,
                metrics=[
                    Metric(f"m{j % 4}", float(j) / PER_RUN, base + j, j)
                    for j in range(start, start + 1000)
                ],
            )
        return run_id

    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(one_run, range(RUNS)))
    artifact = tmp_path / "notes.txt"
    artifact.write_text("replayed")
    for run_id in run_ids[:5]:
        client.log_artifact(run_id, str(artifact))
    client.delete_run(run_ids[-1])
    name = f"scale-model-{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name)
    for run_id in run_ids[:3]:
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "Staging")
    client.transition_model_version_stage(name, "3", "Production", archive_existing_versions=True)
    client.set_registered_model_alias(name, "champion", "3")
    client.set_registered_model_alias(name, "challenger", "2")
    return {"runs": len(run_ids)}


class Writer:
    """Keeps writing through the mlflow client while replays run, remembering every step."""

    def __init__(self, client: MlflowClient, run_id: str, key: str) -> None:
        self.client = client
        self.run_id = run_id
        self.key = key
        self.steps: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def _write(self) -> None:
        step = 0
        while not self._stop.is_set() and step < 20_000:  # bounded
            try:
                self.client.log_metric(self.run_id, self.key, float(step), step=step)
                self.steps.append(step)
            except BaseException as err:
                self.errors.append(err)
                return
            step += 1

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def replay(env: dict[str, str], source: str) -> tuple[str, float, float]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "replay",
            "--from",
            source,
            "--schema",
            f"rebuild_{source}",
        ],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rates = re.search(r"([\d,]+) events/s, ([\d,]+) points/s", result.stdout)
    assert rates, result.stdout
    events_rate, points_rate = (float(g.replace(",", "")) for g in rates.groups())
    return result.stdout, events_rate, points_rate


@pytest.mark.slow
def test_replay_from_kafka_and_from_the_audit_log(
    cluster: tuple[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, env = cluster
    client = MlflowClient(url)
    counts = fill(client, tmp_path)
    assert counts["runs"] == RUNS
    total_points = sum(
        len(client.get_metric_history(r.info.run_id, f"m{k}"))
        for r in client.search_runs(
            [
                e.experiment_id
                for e in client.search_experiments(filter_string="name LIKE 'scale-%'")
            ],
            max_results=50000,
            run_view_type=3,
        )[:2]
        for k in range(4)
    )
    assert total_points == 2 * PER_RUN
    target = client.create_run("0").info.run_id
    for source in ("log", "audit"):
        with Writer(client, target, f"during-{source}") as writer:
            output, events_rate, points_rate = replay(env, source)
        assert not writer.errors, writer.errors
        assert "swapped in" in output and "DIFFERENT" not in output
        assert writer.steps, "writes went on during the replay"
        history = client.get_metric_history(target, f"during-{source}")
        assert sorted(m.step for m in history) == sorted(set(writer.steps))
        assert len(history) == len(writer.steps), "no write lost or applied twice"
        with capsys.disabled():
            print(
                f"\nreplay from {source}: {events_rate:,.0f} events/s, "
                f"{points_rate:,.0f} metric points/s; {len(writer.steps)} writes during it"
            )
    # the registry survived both rebuilds exactly
    models = client.search_registered_models(filter_string="name LIKE 'scale-model-%'")
    assert len(models) == 1
    model = models[0]
    assert client.get_model_version_by_alias(model.name, "champion").version == "3"
    assert {
        v.version: v.current_stage for v in client.search_model_versions(f"name = '{model.name}'")
    } == {"1": "Archived", "2": "Staging", "3": "Production"}
