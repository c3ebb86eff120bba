"""The real mlflow client logs, lists and downloads artifacts through the gateway, and every file
it stores is in the audit log with its SHA-256."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
from pathlib import Path

import httpx
import mlflow
import mlflow.artifacts
import pytest
import yaml
from mlflow import MlflowClient

from tests.e2e.artifacts.conftest import Deployment, stored_events


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path) -> dict[str, bytes]:
    """A directory tree of text, binary, empty and nested files; returns path -> bytes."""
    files = {
        "README.md": b"# a model\n",
        "weights.bin": os.urandom(11 * 1024 * 1024 + 17),  # several S3 parts
        "empty.txt": b"",
        "sub/config.json": b'{"lr": 0.1}',
        "sub/deeper/data.csv": b"a,b\n1,2\n",
        "sub/deeper/unicode name \u00e9.txt": "caf\u00e9".encode(),
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def names(infos: list[mlflow.entities.FileInfo]) -> list[tuple[str, bool, int | None]]:
    return [(i.path, i.is_dir, i.file_size) for i in infos]


def test_log_list_and_download_through_the_client(
    client: MlflowClient, deployment: Deployment, tmp_path: Path
) -> None:
    single = tmp_path / "single.bin"
    single.write_bytes(os.urandom(200_000))
    tree = tmp_path / "tree"
    files = make_tree(tree)
    with mlflow.start_run() as run:
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
        mlflow.log_artifact(str(single))
        mlflow.log_artifact(str(single), artifact_path="copies")
        mlflow.log_artifacts(str(tree), artifact_path="tree")
        mlflow.log_dict({"alpha": 1, "nested": {"b": [1, 2]}}, "config/params.json")
        mlflow.log_dict({"alpha": 1}, "config/params.yaml")
        mlflow.log_text("some notes\n", "notes.txt")
    run_id = run.info.run_id

    assert names(client.list_artifacts(run_id)) == [
        ("config", True, None),
        ("copies", True, None),
        ("notes.txt", False, 11),
        ("single.bin", False, 200_000),
        ("tree", True, None),
    ]
    assert names(client.list_artifacts(run_id, "tree/sub")) == [
        ("tree/sub/config.json", False, 11),
        ("tree/sub/deeper", True, None),
    ]
    assert client.list_artifacts(run_id, "single.bin") == [], "a file is not a directory"
    assert client.list_artifacts(run_id, "no/such/dir") == []

    out = tmp_path / "out"
    got = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="single.bin", dst_path=str(out / "file")
    )
    assert Path(got).read_bytes() == single.read_bytes()
    got_tree = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="tree", dst_path=str(out / "tree")
        )
    )
    for relative, data in files.items():
        assert (got_tree / relative).read_bytes() == data, relative
    comparison = filecmp.dircmp(tree, got_tree)
    assert not comparison.left_only and not comparison.right_only
    everything = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(out / "all")))
    assert json.loads((everything / "config/params.json").read_text()) == {
        "alpha": 1,
        "nested": {"b": [1, 2]},
    }
    assert yaml.safe_load((everything / "config/params.yaml").read_text()) == {"alpha": 1}
    assert (everything / "notes.txt").read_text() == "some notes\n"
    assert (everything / "copies/single.bin").read_bytes() == single.read_bytes()

    # Every file is an artifact.stored event in the audit log, with its size and SHA-256.
    expected = {
        "single.bin": single.read_bytes(),
        "copies/single.bin": single.read_bytes(),
        "notes.txt": b"some notes\n",
        "config/params.json": (everything / "config/params.json").read_bytes(),
        "config/params.yaml": (everything / "config/params.yaml").read_bytes(),
        **{f"tree/{k}": v for k, v in files.items()},
    }
    events = stored_events(deployment.database_url, run_id)
    root = f"{run.info.experiment_id}/{run_id}/artifacts"
    recorded = {e["payload"]["path"]: e for e in events}
    assert sorted(recorded) == sorted(f"{root}/{p}" for p in expected)
    for relative, data in expected.items():
        event = recorded[f"{root}/{relative}"]
        assert event["verdict"] == "accepted"
        assert event["payload"]["run_id"] == run_id
        assert (event["payload"]["size"], event["payload"]["sha256"]) == (len(data), sha(data))

    report = httpx.get(
        f"{deployment.url}/api/ledgerflow/runs/{run_id}/artifacts/verify", timeout=60
    ).json()
    assert report["ok"] and report["recorded"] == report["stored"] == len(expected), report


def test_a_missing_artifact_fails_the_download(client: MlflowClient, tmp_path: Path) -> None:
    with mlflow.start_run() as run:
        mlflow.log_text("x", "present.txt")
    with pytest.raises(Exception, match=r"Failed to download artifacts from path 'absent\.txt'"):
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="absent.txt", dst_path=str(tmp_path)
        )


def test_a_logged_models_files_are_recorded_against_the_model(
    client: MlflowClient, deployment: Deployment, tmp_path: Path
) -> None:
    # The upload path a logged model uses; the files are recorded under its model id.
    experiment_id = client.create_experiment(f"models-{os.urandom(4).hex()}")
    key = f"{experiment_id}/models/m-{os.urandom(8).hex()}/artifacts/MLmodel"
    body = b"artifact_path: model\nflavors: {}\n"
    response = httpx.put(f"{deployment.url}/api/2.0/mlflow-artifacts/artifacts/{key}", content=body)
    assert response.status_code == 200 and response.json() == {}
    model_id = key.split("/")[2]
    [event] = stored_events(deployment.database_url, model_id)
    assert event["payload"] == {
        "run_id": None,
        "model_id": model_id,
        "path": key,
        "size": len(body),
        "sha256": sha(body),
    }
