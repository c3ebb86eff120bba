"""Fixtures for search tests: a migrated database, generated runs and experiments written straight
into the read-model tables, and a pager that walks a search page by page."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from services.search import CompiledSearch

Record = dict[str, Any]

BASE_TIME = 1_700_000_000_000
EXPERIMENT_IDS = [1, 2, 3, 4, 5]
METRIC_KEYS = ["acc", "loss", "val loss", "f1"]
_RUN_COLUMNS = (
    "run_id",
    "experiment_id",
    "name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
    "deleted_time",
)


def _metric_value(rng: random.Random) -> float:
    roll = rng.random()
    if roll < 0.06:
        return math.nan
    if roll < 0.09:
        return math.inf
    if roll < 0.12:
        return -math.inf
    if roll < 0.5:  # a small set of values, so that ties are common
        return rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, -1.0, 2.5, 1e308])
    return round(rng.uniform(-2, 3), 3)


def make_runs(rng: random.Random, count: int, *, experiment_ids: Sequence[int]) -> list[Record]:
    """Runs with varied params, tags, metrics and datasets: missing keys, NaN, +-Infinity, equal
    start times, NULL start and end times, deleted runs, mixed-case names and run_ids."""
    runs = []
    for i in range(count):
        hexid = f"{rng.getrandbits(128):032x}"
        run_id = hexid if rng.random() < 0.9 else f"{rng.choice(['Run', 'RUN', 'r'])}-{hexid[:12]}"
        start = None if rng.random() < 0.01 else BASE_TIME + rng.randrange(400) * 1000
        end = None if start is None or rng.random() < 0.3 else start + rng.randrange(10**6)
        adjective = rng.choice(["brave", "Brave", "calm", "eager", "fancy_cat", "50%off"])
        params = {
            key: rng.choice(values)
            for key, chance, values in [
                ("lr", 0.85, ["0.1", "0.01", "0.001", "1e-4"]),
                ("batch_size", 0.8, ["16", "32", "64", "128"]),
                ("model", 0.7, ["resnet", "ResNet", "resnet50", "vit", "ViT_b", "mlp"]),
                ("optimizer", 0.6, ["adam", "Adam", "sgd", "adamw"]),
                ("note", 0.25, ["100% done", "a_b", "a\\b", "plain", ""]),
            ]
            if rng.random() < chance
        }
        tags = {
            key: rng.choice(values)
            for key, chance, values in [
                ("team", 0.7, ["vision", "nlp", "Vision"]),
                ("priority", 0.5, ["high", "low", "medium"]),
                ("mlflow.source.name", 0.8, ["train.py", "eval.py", "notebooks/train.py"]),
                ("my tag", 0.3, ["x", "y"]),
            ]
            if rng.random() < chance
        }
        metrics = {key: _metric_value(rng) for key in METRIC_KEYS if rng.random() < 0.8}
        datasets = [
            {
                "name": rng.choice(["train", "eval", "holdout"]),
                "digest": rng.choice(["d1", "d2", "d3"]),
                "context": rng.choice(["training", "evaluation", None]),
            }
            for _ in range(rng.choice([0, 0, 1, 1, 2]))
        ]
        # One input per (run, dataset): the table's primary key.
        unique = {(d["name"], d["digest"]): d for d in datasets}
        experiment_id = rng.choice(experiment_ids)
        runs.append(
            {
                "run_id": run_id,
                "experiment_id": experiment_id,
                "run_name": f"{adjective}-{rng.choice(['owl', 'Fox', 'yak'])}-{i}",
                "user_id": rng.choice(["alice", "bob", "Carol", "dave"]),
                "status": rng.choice(["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"]),
                "start_time": start,
                "end_time": end,
                "artifact_uri": rng.choice(["s3://bucket", "file:///tmp/mlruns"])
                + f"/{experiment_id}/{run_id}/artifacts",
                "lifecycle_stage": "deleted" if rng.random() < 0.12 else "active",
                "params": params,
                "tags": tags,
                "metrics": metrics,
                "datasets": list(unique.values()),
            }
        )
    return runs


def make_experiments(rng: random.Random, count: int, *, first_id: int = 1) -> list[Record]:
    experiments = []
    for i in range(count):
        created = BASE_TIME + rng.randrange(150) * 1000  # many equal creation times
        stem = rng.choice(["exp", "Exp", "demo", "prod_model", "50%"])
        experiments.append(
            {
                "experiment_id": first_id + i,
                "name": f"{stem}-{first_id + i:04d}",
                "lifecycle_stage": "deleted" if rng.random() < 0.15 else "active",
                "creation_time": created,
                "last_update_time": created + rng.randrange(5) * 1000,
                "tags": {
                    key: rng.choice(values)
                    for key, chance, values in [
                        ("team", 0.6, ["vision", "nlp", "Vision"]),
                        ("owner", 0.5, ["alice", "bob"]),
                        ("mlflow.note.content", 0.2, ["hello", "100% sure", ""]),
                    ]
                    if rng.random() < chance
                },
            }
        )
    return experiments


async def insert_experiments(conn: asyncpg.Connection, experiments: Sequence[Record]) -> None:
    # Bulk writes through COPY: hundreds of rows per test, one round trip each table.
    await conn.copy_records_to_table(
        "experiments",
        records=[
            (
                e["experiment_id"],
                e["name"],
                f"s3://bucket/{e['experiment_id']}",
                e["lifecycle_stage"],
                e["creation_time"],
                e["last_update_time"],
            )
            for e in experiments
        ],
        columns=[
            "experiment_id",
            "name",
            "artifact_location",
            "lifecycle_stage",
            "creation_time",
            "last_update_time",
        ],
    )
    await conn.copy_records_to_table(
        "experiment_tags",
        records=[(e["experiment_id"], k, v) for e in experiments for k, v in e["tags"].items()],
        columns=["experiment_id", "key", "value"],
    )


async def insert_runs(conn: asyncpg.Connection, runs: Sequence[Record]) -> None:
    """Write runs with their params, tags, latest metrics and dataset inputs (experiments and
    metric keys must exist, see ``ensure_metric_keys``)."""
    await conn.copy_records_to_table(
        "runs",
        records=[
            (
                r["run_id"],
                r["experiment_id"],
                r["run_name"],
                r["user_id"],
                r["status"],
                r["start_time"],
                r["end_time"],
                r["artifact_uri"],
                r["lifecycle_stage"],
                None,
            )
            for r in runs
        ],
        columns=_RUN_COLUMNS,
    )
    keys = {
        row["run_id"]: row["run_key"]
        for row in await conn.fetch(
            "SELECT run_id, run_key FROM runs WHERE run_id = ANY($1::text[])",
            [r["run_id"] for r in runs],
        )
    }
    metric_ids = {row["key"]: row["key_id"] for row in await conn.fetch("TABLE metric_keys")}
    for table, field in (("run_params", "params"), ("run_tags", "tags")):
        await conn.copy_records_to_table(
            table,
            records=[(keys[r["run_id"]], k, v) for r in runs for k, v in r[field].items()],
            columns=["run_key", "key", "value"],
        )
    await conn.copy_records_to_table(
        "latest_metrics",
        records=[
            (keys[r["run_id"]], metric_ids[k], 0, BASE_TIME, v)
            for r in runs
            for k, v in r["metrics"].items()
        ],
        columns=["run_key", "key_id", "step", "timestamp", "value"],
    )
    inputs = [(r, d) for r in runs for d in r["datasets"]]
    if not inputs:
        return
    dataset_keys: dict[tuple[int, str, str], int] = {}
    for r, d in inputs:
        identity = (r["experiment_id"], d["name"], d["digest"])
        if identity not in dataset_keys:
            dataset_keys[identity] = await conn.fetchval(
                "INSERT INTO datasets (experiment_id, name, digest, source_type, source) "
                "VALUES ($1, $2, $3, 'local', 'memory') "
                "ON CONFLICT (experiment_id, name, digest) DO UPDATE SET name = EXCLUDED.name "
                "RETURNING dataset_key",
                *identity,
            )
    await conn.executemany(
        "INSERT INTO run_dataset_inputs (run_key, dataset_key, tags) VALUES ($1, $2, $3)",
        [
            (
                keys[r["run_id"]],
                dataset_keys[(r["experiment_id"], d["name"], d["digest"])],
                [{"key": "mlflow.data.source_type", "value": "local"}]
                + ([{"key": "mlflow.data.context", "value": d["context"]}] if d["context"] else []),
            )
            for r, d in inputs
        ],
    )


async def ensure_metric_keys(conn: asyncpg.Connection, keys: Sequence[str]) -> None:
    await conn.execute(
        "INSERT INTO metric_keys (key) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", keys
    )


async def collect_pages(
    pool: asyncpg.Pool,
    compile_page: Callable[[str | None], CompiledSearch],
    id_column: str,
    *,
    max_pages: int,
) -> list[Any]:
    """Walk a search to its end (at most ``max_pages`` pages) and return the ids in order."""
    found: list[Any] = []
    token: str | None = None
    for _ in range(max_pages):
        compiled = compile_page(token)
        rows = await pool.fetch(compiled.sql, *compiled.args)
        page, token = compiled.page(rows)
        found += [row[id_column] for row in page]
        if token is None:
            return found
    raise AssertionError(f"still paging after {max_pages} pages ({len(found)} rows so far)")
