"""`ledgerflow artifacts gc` on a prepared set of runs made with the real mlflow client against a
real server, on the local store, on S3 and in the cluster mode: it removes exactly what the
policy names and keeps what a model version references.

The prepared set has runs deleted "long ago" and "recently" without sleeping for days: the runs of
the first group are deleted, a moment is marked, the second group is deleted, and the sweep runs
with its now 30 days after that moment and `--deleted-older-than 30`. Old runs are made old with
the client's own `start_time`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import boto3
import httpx
import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from tests.e2e.retention.conftest import Deployment

DAY_MS = 86_400_000


def store_files(deployment: Deployment, root: str) -> dict[str, int]:
    """What the store itself holds below ``root`` (a store key): path -> size."""
    if deployment.local_root is not None:
        base = deployment.local_root / root
        return {str(p.relative_to(base)): p.stat().st_size for p in base.rglob("*") if p.is_file()}
    assert deployment.s3 is not None
    s3 = boto3.client(
        "s3",
        endpoint_url=deployment.s3.url,
        region_name=deployment.s3.region,
        aws_access_key_id=deployment.s3.access_key,
        aws_secret_access_key=deployment.s3.secret_key,
    )
    prefix = f"{deployment.env['LEDGERFLOW_ARTIFACTS_S3_PREFIX']}/{root}/"
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=deployment.env["LEDGERFLOW_ARTIFACTS_S3_BUCKET"], Prefix=prefix
    ):
        for item in page.get("Contents", []):
            found[item["Key"][len(prefix) :]] = int(item["Size"])
    return found


def listed(client: MlflowClient, kind: str, owner_id: str) -> set[str]:
    """Every file the mlflow client lists for a run or logged model, recursively."""
    found: set[str] = set()
    pending: list[str | None] = [None]
    while pending:
        path = pending.pop()
        entries = (
            client.list_artifacts(owner_id, path)
            if kind == "run"
            else client.list_logged_model_artifacts(owner_id, path)
        )
        for entry in entries:
            (pending.append(entry.path) if entry.is_dir else found.add(entry.path))
    return found


def audit_events(deployment: Deployment) -> list[dict[str, Any]]:
    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(deployment.database_url)
        try:
            return await conn.fetch(
                "SELECT event, verdict FROM ledgerflow.audit_log "
                "WHERE event_type = 'artifacts.collected' ORDER BY seq"
            )
        finally:
            await conn.close()

    return [{**json.loads(r["event"]), "verdict": r["verdict"]} for r in asyncio.run(fetch())]


@dataclass
class Owner:
    kind: str
    id: str
    root: str
    """Its store key."""


@dataclass
class Prepared:
    experiment_id: str
    now: str
    """The sweep's --now: 30 days after the moment between the two groups of deletions."""
    owners: dict[str, Owner]
    collected: set[str]
    """Names (keys of owners) the policy collects."""
    kept: dict[str, list[str]]
    """Names the policy names but a version keeps, with the versions."""
    untouched: set[str]
    model_name: str


def make_run(client: MlflowClient, experiment_id: str, start_time: int | None = None) -> str:
    run_id: str = client.create_run(experiment_id, start_time=start_time).info.run_id
    client.log_text(run_id, f"notes of {run_id}", "notes.txt")
    client.log_dict(run_id, {"run": run_id, "values": list(range(50))}, "deep/dir/config.json")
    client.log_text(run_id, "flavors: {}", "model/MLmodel")
    client.set_terminated(run_id)
    return run_id


def prepare(client: MlflowClient) -> Prepared:
    tag = uuid.uuid4().hex[:8]
    experiment_id = client.create_experiment(f"gc-{tag}")
    elsewhere = client.create_experiment(f"gc-other-{tag}")
    model_name = f"gc-clf-{tag}"
    long_ago = int(time.time() * 1000) - 200 * DAY_MS
    features = np.random.default_rng(3).normal(size=(40, 3))
    estimator = LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))

    runs = {
        "deleted_old": make_run(client, experiment_id),
        "deleted_recent": make_run(client, experiment_id),
        "started_long_ago": make_run(client, experiment_id, start_time=long_ago),
        "young": make_run(client, experiment_id),
        "referenced_by_run_id": make_run(client, experiment_id),
        "referenced_by_deleted_version": make_run(client, experiment_id),
        "other_experiment": make_run(client, elsewhere),
    }
    client.create_registered_model(model_name)
    client.create_model_version(
        model_name,
        f"runs:/{runs['referenced_by_run_id']}/model",
        run_id=runs["referenced_by_run_id"],
    )  # v1
    client.create_model_version(
        model_name,
        f"runs:/{runs['referenced_by_deleted_version']}/model",
        run_id=runs["referenced_by_deleted_version"],
    )  # v2, deleted below
    client.delete_model_version(model_name, "2")
    models = {}
    for name, register in (("orphan", False), ("registered", True)):
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_text("training log", "log.txt")
            info = mlflow.sklearn.log_model(
                estimator,
                name="model",
                pip_requirements=["scikit-learn"],
                registered_model_name=model_name if register else None,
            )  # the registered one becomes v3
        runs[f"{name}_model_run"] = run.info.run_id
        models[f"{name}_model"] = info.model_id

    for name in (
        "deleted_old",
        "referenced_by_run_id",
        "referenced_by_deleted_version",
        "orphan_model_run",
        "registered_model_run",
        "other_experiment",
    ):
        client.delete_run(runs[name])
    time.sleep(0.005)  # the deletions above are stamped strictly before the mark...
    mark = int(time.time() * 1000)
    time.sleep(0.005)  # ...and the one below strictly after it
    client.delete_run(runs["deleted_recent"])
    now = datetime.fromtimestamp(mark / 1000, UTC) + timedelta(days=30)

    owners = {}
    for name, run_id in runs.items():
        run_info = client.get_run(run_id).info
        owners[name] = Owner("run", run_id, run_info.artifact_uri.split(":", 1)[1].strip("/"))
    for name, model_id in models.items():
        location = client.get_logged_model(model_id).artifact_location
        owners[name] = Owner("model", model_id, location.split(":", 1)[1].strip("/"))
    registered_run = client.get_model_version(model_name, "3").run_id
    assert registered_run in (None, runs["registered_model_run"])
    return Prepared(
        experiment_id=experiment_id,
        now=now.isoformat(),
        owners=owners,
        collected={
            "deleted_old",
            "started_long_ago",
            "referenced_by_deleted_version",
            "orphan_model_run",
            "orphan_model",
        }
        | ({"registered_model_run"} if registered_run is None else set()),
        kept={
            "referenced_by_run_id": [f"{model_name} v1"],
            "registered_model": [f"{model_name} v3"],
        }
        | ({"registered_model_run": [f"{model_name} v3"]} if registered_run else {}),
        untouched={"deleted_recent", "young", "other_experiment"},
        model_name=model_name,
    )


def gc(deployment: Deployment, prepared: Prepared, *extra: str) -> dict[str, Any]:
    started = time.monotonic()
    done = deployment.gc(
        "--deleted-older-than",
        "30",
        "--runs-older-than",
        "90",
        "--experiment",
        prepared.experiment_id,
        "--now",
        prepared.now,
        "--json",
        *extra,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"gc {' '.join(extra) or '(dry run)'}: {time.monotonic() - started:.1f}s")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def by_name(prepared: Prepared, entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = {(o.kind, o.id): name for name, o in prepared.owners.items()}
    return {names[(e["kind"], e["id"])]: e for e in entries}


def test_gc_removes_exactly_what_the_policy_names(
    client: MlflowClient, deployment: Deployment
) -> None:
    prepared = prepare(client)
    owners = prepared.owners
    stored = {name: store_files(deployment, o.root) for name, o in owners.items()}
    listing = {name: listed(client, o.kind, o.id) for name, o in owners.items()}
    assert all(stored.values()) and all(listing.values())
    events_before = audit_events(deployment)

    # the dry run: says what would go and what is kept, changes nothing
    dry = gc(deployment, prepared)
    assert not dry["applied"]
    collected = by_name(prepared, dry["collected"])
    assert set(collected) == prepared.collected
    for name, entry in collected.items():
        assert entry["files"] == len(stored[name])
        assert entry["bytes"] == sum(stored[name].values())
        assert entry["paths"] == sorted(f"{owners[name].root}/{p}" for p in stored[name])
    assert collected["deleted_old"]["reason"] == "deleted 30 days ago"
    assert collected["started_long_ago"]["reason"] == "started 230 days ago"
    assert collected["orphan_model"]["reason"].startswith(
        f"belongs only to run {owners['orphan_model_run'].id}"
    )
    kept = by_name(prepared, dry["kept"])
    assert {name: entry["versions"] for name, entry in kept.items()} == prepared.kept
    assert {name: store_files(deployment, o.root) for name, o in owners.items()} == stored
    assert {name: listed(client, o.kind, o.id) for name, o in owners.items()} == listing
    assert audit_events(deployment) == events_before

    table = deployment.gc(
        "--deleted-older-than", "30", "--runs-older-than", "90",
        "--experiment", prepared.experiment_id, "--now", prepared.now, columns=200,
    )  # fmt: skip
    print(table.stdout)
    assert table.returncode == 0, table.stderr[-3000:]
    assert "would be collected (dry run)" in table.stdout
    assert f"{prepared.model_name} v1" in table.stdout
    assert "run again with --apply" in table.stdout

    # applied: deletes exactly the collected roots, records one event for each
    applied = gc(deployment, prepared, "--apply")
    assert applied["applied"]
    assert {
        name: (e["files"], e["bytes"])
        for name, e in by_name(prepared, applied["collected"]).items()
    } == {name: (e["files"], e["bytes"]) for name, e in collected.items()}
    for name, owner in owners.items():
        if name in prepared.collected:
            assert store_files(deployment, owner.root) == {}, name
            assert listed(client, owner.kind, owner.id) == set(), name
        else:
            assert store_files(deployment, owner.root) == stored[name], name
            assert listed(client, owner.kind, owner.id) == listing[name], name

    events = audit_events(deployment)[len(events_before) :]
    assert len(events) == len(prepared.collected)
    assert {e["verdict"] for e in events} == {"accepted"}
    assert {e["actor"]["kind"] for e in events} == {"system"}
    recorded = {tuple(sorted(e["payload"]["paths"])) for e in events}
    assert recorded == {tuple(e["paths"]) for e in collected.values()}
    assert sum(e["payload"]["bytes_freed"] for e in events) == applied["totals"]["bytes"]
    assert all("runs deleted more than 30 days ago" in e["payload"]["policy"] for e in events)
    event_ids = {i for e in applied["collected"] for i in e["event_ids"]}
    assert event_ids == {e["event_id"] for e in events}

    # verification expects the collected files gone, and still checks what is kept
    for name in ("deleted_old", "referenced_by_run_id"):
        report = httpx.get(
            f"{deployment.url}/api/ledgerflow/runs/{owners[name].id}/artifacts/verify"
        ).json()
        assert report["ok"] and not report["missing"], report
        assert report["collected"] == (len(stored[name]) if name == "deleted_old" else 0)

    # the registered logged model still loads
    loaded = mlflow.sklearn.load_model(f"models:/{prepared.model_name}/3")
    assert loaded.predict(np.zeros((1, 3))).shape == (1,)

    # a second sweep collects nothing
    again = gc(deployment, prepared, "--apply")
    assert again["collected"] == [] and again["totals"]["files"] == 0
    assert again["empty"] == len(prepared.collected)
    assert len(audit_events(deployment)) == len(events_before) + len(prepared.collected)
