"""Shared by the history tests: the registry as observed live through the mlflow client, the
same shape rebuilt from the as-of API, and small HTTP helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from mlflow import MlflowClient

Snapshot = dict[str, Any]


def live_snapshot(client: MlflowClient, name: str) -> Snapshot:
    """The model as the mlflow client reads it now (the read models)."""
    model = client.get_registered_model(name)
    versions = client.search_model_versions(f"name='{name}'")
    return {
        "name": model.name,
        "description": model.description or None,
        "tags": dict(model.tags),
        "aliases": {alias: int(v) for alias, v in model.aliases.items()},
        "versions": {
            int(v.version): {
                "stage": v.current_stage,
                # search leaves a version's aliases out, as MLflow's does: the model has them
                "aliases": sorted(a for a, n in model.aliases.items() if int(n) == int(v.version)),
                "tags": dict(v.tags),
                "description": v.description or None,
            }
            for v in versions
        },
    }


def state_snapshot(body: dict[str, Any], name: str) -> Snapshot:
    """The same, from GET /api/ledgerflow/registry/state."""
    (model,) = [m for m in body["registered_models"] if m["name"] == name]
    return {
        "name": model["name"],
        "description": model.get("description") or None,
        "tags": {t["key"]: t["value"] for t in model.get("tags", [])},
        "aliases": {a["alias"]: int(a["version"]) for a in model.get("aliases", [])},
        "versions": {
            int(v["version"]): {
                "stage": v["current_stage"],
                "aliases": sorted(v.get("aliases", [])),
                "tags": {t["key"]: t["value"] for t in v.get("tags", [])},
                "description": v.get("description") or None,
            }
            for v in model["model_versions"]
        },
    }


def history(url: str, name: str, version: int | None = None) -> dict[str, Any]:
    path = f"{url}/api/ledgerflow/registry/models/{name}"
    path += f"/versions/{version}/history" if version else "/history"
    response = httpx.get(path, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def state(url: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{url}/api/ledgerflow/registry/state", params=params, timeout=30)


@dataclass(frozen=True)
class Moment:
    """What was observed live right after one operation: the audit seq of its event, a time
    after it was recorded (and before the next operation's), and the model's state."""

    label: str
    name: str
    seq: int
    at: datetime
    live: Snapshot


def observe(url: str, client: MlflowClient, name: str, label: str) -> Moment:
    seq = history(url, name)["entries"][-1]["seq"]
    moment = Moment(label, name, seq, datetime.now(UTC), live_snapshot(client, name))
    time.sleep(0.005)  # the next event is recorded strictly after `at`
    return moment


def check_as_of(url: str, moments: list[Moment]) -> None:
    """The as-of state at every observed moment, by seq and by time, equals what was seen."""
    for moment in moments:
        by_seq = state(url, as_of_seq=moment.seq, name=moment.name)
        assert by_seq.status_code == 200, by_seq.text
        assert state_snapshot(by_seq.json(), moment.name) == moment.live, moment.label
        assert by_seq.json()["last_event"]["seq"] == moment.seq
        by_time = state(url, as_of=moment.at.isoformat(), name=moment.name)
        assert by_time.status_code == 200, by_time.text
        assert state_snapshot(by_time.json(), moment.name) == moment.live, moment.label
        assert by_time.json()["last_event"]["seq"] >= moment.seq
