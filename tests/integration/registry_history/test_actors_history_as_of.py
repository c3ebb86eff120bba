"""History and as-of over HTTP against a real embedded server, with two kinds of actors.

The server first runs without authentication, where bob's Basic username is only a claim
(self-reported); it is then restarted on the same data with a users file and a tokens file, where
alice's Basic credentials and a deploy bot's Bearer token verify (authenticated) and wrong ones
are refused with 401. The model is promoted through stages and aliases and renamed; its history
shows every event with its actor's kind and the state before and after, and the registry as of
every observed moment (by seq and by time) equals what the mlflow client saw live then.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.e2e.server import running_server
from tests.integration.registry_history.support import (
    Moment,
    check_as_of,
    history,
    observe,
    state,
)

pytestmark = pytest.mark.timeout(300)


@contextlib.contextmanager
def credentials(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[None]:
    """The mlflow client reads MLFLOW_TRACKING_* at every request."""
    names = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
    with monkeypatch.context() as patch:
        for name in names:
            patch.delenv(name, raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        yield


def auth_env(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    users = directory / "users.htpasswd"
    users.write_text(f"alice:{bcrypt.hashpw(b'wonderland', bcrypt.gensalt(rounds=6)).decode()}\n")
    tokens = directory / "tokens"
    tokens.write_text(f"{hashlib.sha256(b'deploy-token').hexdigest()}:deploy-bot\n")
    return {"LEDGERFLOW_AUTH_USERS_FILE": str(users), "LEDGERFLOW_AUTH_TOKENS_FILE": str(tokens)}


def test_history_actors_and_as_of(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    workdir = tmp_path_factory.mktemp("history")
    data_dir = workdir / "ledgerflow-data"
    name, renamed = f"fraud-{uuid.uuid4().hex[:6]}", f"fraud-final-{uuid.uuid4().hex[:6]}"
    moments: list[Moment] = []

    # ---- auth off: bob's name is a claim
    with running_server(data_dir) as url:
        client = MlflowClient(url)
        with credentials(monkeypatch, MLFLOW_TRACKING_USERNAME="bob", MLFLOW_TRACKING_PASSWORD="x"):
            client.create_registered_model(name, tags={"team": "risk"}, description="fraud")
            moments.append(observe(url, client, name, "created"))
            client.create_model_version(name, "s3://models/fraud/1")
            client.create_model_version(name, "s3://models/fraud/2")
            moments.append(observe(url, client, name, "two versions"))
            client.transition_model_version_stage(name, "1", "Staging")
            moments.append(observe(url, client, name, "v1 staging"))
            client.set_registered_model_alias(name, "champion", "1")
            moments.append(observe(url, client, name, "champion v1"))
        check_as_of(url, moments)

    # ---- auth on, same data: alice and the deploy bot are verified
    with running_server(data_dir, env=auth_env(workdir / "auth")) as url:
        client = MlflowClient(url)
        check_as_of(url, moments)  # the past survives the restart
        alice = {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "wonderland"}
        with credentials(monkeypatch, **alice):
            client.transition_model_version_stage(name, "1", "Production")
            moments.append(observe(url, client, name, "v1 production"))
            client.transition_model_version_stage(
                name, "2", "Production", archive_existing_versions=True
            )
            moments.append(observe(url, client, name, "v2 production, v1 archived"))
            client.set_registered_model_alias(name, "champion", "2")
            moments.append(observe(url, client, name, "champion v2"))
            client.set_model_version_tag(name, "2", "validated", "true")
            moments.append(observe(url, client, name, "v2 validated"))
            client.rename_registered_model(name, renamed)
            moments.append(observe(url, client, renamed, "renamed"))
        with credentials(monkeypatch, MLFLOW_TRACKING_TOKEN="deploy-token"):
            client.set_registered_model_tag(renamed, "deployed", "yes")
            moments.append(observe(url, client, renamed, "tagged by the bot"))
        with credentials(
            monkeypatch, MLFLOW_TRACKING_USERNAME="alice", MLFLOW_TRACKING_PASSWORD="wrong"
        ):
            with pytest.raises(MlflowException) as refused:
                client.delete_registered_model_alias(renamed, "champion")
            assert refused.value.error_code == "UNAUTHENTICATED"
        raw = httpx.get(
            f"{url}/api/ledgerflow/registry/models/{renamed}/history", auth=("alice", "nope")
        )
        assert raw.status_code == 401 and raw.json()["error_code"] == "UNAUTHENTICATED"

        check_as_of(url, moments)
        _check_model_history(url, renamed, name)
        _check_version_history(url, renamed)
        _check_errors(url, renamed, moments)
        _check_cli(url, renamed, moments)


def _check_model_history(url: str, renamed: str, first_name: str) -> None:
    body = history(url, renamed)
    entries = body["entries"]
    assert body["name"] == renamed
    kinds = [(e["event_type"], e["actor"]["name"], e["actor"]["kind"]) for e in entries]
    assert kinds[0] == ("registered_model.created", "bob", "self_reported")
    assert entries[0]["actor"]["self_reported"] is True
    assert entries[0]["payload"]["name"] == first_name  # life under the old name included
    assert entries[0]["before"] is None and entries[0]["after"]["name"] == first_name
    by_type = [k for k in kinds if k[0] != "registered_model.created"]
    assert by_type == [
        ("model_version.created", "bob", "self_reported"),
        ("model_version.created", "bob", "self_reported"),
        ("model_version.stage_transitioned", "bob", "self_reported"),
        ("model_alias.set", "bob", "self_reported"),
        ("model_version.stage_transitioned", "alice", "authenticated"),
        ("model_version.stage_transitioned", "alice", "authenticated"),
        ("model_alias.set", "alice", "authenticated"),
        ("model_version.tag_set", "alice", "authenticated"),
        ("registered_model.renamed", "alice", "authenticated"),
        ("registered_model.tag_set", "deploy-bot", "authenticated"),
    ]
    assert all(e["verdict"] == "accepted" for e in entries)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)

    archive = entries[6]
    assert archive["payload"]["archive_existing_versions"] is True
    assert {
        (c["field"], c.get("version"), c["before"], c["after"]) for c in archive["changes"]
    } == {
        ("stage", 1, "Production", "Archived"),
        ("stage", 2, "None", "Production"),
    }
    assert archive["outcome"]["archived_versions"] == [1]
    latest = {v["current_stage"]: v["version"] for v in archive["after"]["latest_versions"]}
    assert latest == {"Archived": "1", "Production": "2"}

    moved = entries[7]
    assert moved["changes"] == [{"field": "alias", "alias": "champion", "before": 1, "after": 2}]
    rename = entries[9]
    assert (rename["before"]["name"], rename["after"]["name"]) == (first_name, renamed)
    assert rename["changes"][0] == {"field": "name", "before": first_name, "after": renamed}


def _check_version_history(url: str, renamed: str) -> None:
    body = history(url, renamed, 1)
    assert body["version"] == "1"
    entries = body["entries"]
    stages = [
        ((e["before"] or {}).get("current_stage"), e["after"]["current_stage"]) for e in entries
    ]
    assert stages == [
        (None, "None"),
        ("None", "Staging"),
        ("Staging", "Staging"),  # the alias was set on it
        ("Staging", "Production"),
        ("Production", "Archived"),
        ("Archived", "Archived"),  # the alias moved away
        ("Archived", "Archived"),  # the rename
    ]
    assert entries[2]["after"]["aliases"] == ["champion"]
    assert "aliases" not in entries[5]["after"]
    assert entries[5]["changes"] == [
        {"field": "alias", "alias": "champion", "before": 1, "after": 2}
    ]
    assert [e["actor"]["kind"] for e in entries] == ["self_reported"] * 3 + ["authenticated"] * 4


def _check_errors(url: str, renamed: str, moments: list[Moment]) -> None:
    def error(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error_code"]

    base = f"{url}/api/ledgerflow/registry"
    assert error(httpx.get(f"{base}/models/no-such-model/history")) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error(httpx.get(f"{base}/models/{renamed}/versions/9/history")) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error(httpx.get(f"{base}/models/{renamed}/versions/one/history")) == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert error(state(url, as_of="the third of March")) == (400, "INVALID_PARAMETER_VALUE")
    assert error(state(url, as_of_seq="-1")) == (400, "INVALID_PARAMETER_VALUE")
    assert error(state(url, as_of_seq="1", as_of="2024-03-03T00:00:00Z")) == (
        400,
        "INVALID_PARAMETER_VALUE",
    )
    # before the model existed, and under a name it did not yet bear
    assert error(state(url, as_of="2000-01-01T00:00:00Z", name=renamed)) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert error(state(url, as_of_seq=moments[0].seq, name=renamed)) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    # an unencoded '+' in the offset arrives as a space: still understood
    at = moments[2].at.isoformat()
    raw = httpx.get(f"{base}/state?name={moments[2].name}&as_of={at}")
    assert raw.status_code == 200, raw.text
    # without a name: every model
    everything = state(url, as_of_seq=moments[-1].seq).json()
    assert renamed in [m["name"] for m in everything["registered_models"]]


def _check_cli(url: str, renamed: str, moments: list[Moment]) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args, "--tracking-uri", url],
            capture_output=True,
            text=True,
            timeout=60,
            env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
        )

    shown = cli("registry", "history", renamed)
    assert shown.returncode == 0, shown.stderr
    assert "bob (self-reported)" in shown.stdout and "alice (authenticated)" in shown.stdout
    assert "v1 stage Staging→Production" in shown.stdout
    assert "alias champion 1→2" in shown.stdout and "alias champion→1" in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr

    version = cli("registry", "history", renamed, "--version", "2")
    assert version.returncode == 0 and "v2 tag validated=true" in version.stdout

    archived = moments[5]
    past = cli("registry", "show", archived.name, "--as-of", str(archived.seq))
    assert past.returncode == 0, past.stderr
    assert "Archived" in past.stdout and "Production" in past.stdout
    by_time = cli("registry", "show", moments[2].name, "--as-of", moments[2].at.isoformat())
    assert by_time.returncode == 0 and "Staging" in by_time.stdout
    assert "Production" not in by_time.stdout

    missing = cli("registry", "history", "no-such-model")
    assert missing.returncode == 1
    assert "RESOURCE_DOES_NOT_EXIST" in missing.stderr and "Traceback" not in missing.stderr
    bad_time = cli("registry", "show", renamed, "--as-of", "yesterday")
    assert bad_time.returncode == 1 and "INVALID_PARAMETER_VALUE" in bad_time.stderr
    down = subprocess.run(
        [sys.executable, "-m", "services.cli", "registry", "history", renamed],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"},
    )
    assert down.returncode == 1 and "cannot reach the gateway" in down.stderr
    assert "Traceback" not in down.stderr
