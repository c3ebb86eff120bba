"""The proxied artifact API spoken directly: headers, listings, deletes, multipart refusals,
server-info, the run-scoped listing and verification."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import httpx
import pytest
from mlflow import MlflowClient

from tests.e2e.artifacts.conftest import Deployment, stored_events

PROXY = "/api/2.0/mlflow-artifacts"


@pytest.fixture
def http(deployment: Deployment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=deployment.url, timeout=60) as session:
        yield session


@pytest.fixture
def run_root(client: MlflowClient) -> tuple[str, str]:
    """A fresh run: (run_id, its artifact root relative to the store)."""
    run = client.create_run("0")
    return run.info.run_id, run.info.artifact_uri.removeprefix("mlflow-artifacts:/")


def test_download_headers_are_mlflows(http: httpx.Client, run_root: tuple[str, str]) -> None:
    _, root = run_root
    for name, body, mime in [
        ("model/MLmodel", b"flavors: {}\n", "text/plain"),
        ("plot.png", b"\x89PNG....", "image/png"),
        ("blob.pkl", b"\x80\x04", "application/octet-stream"),
        ("page.html", b"<script>alert(1)</script>", "text/html"),
    ]:
        assert http.put(f"{PROXY}/artifacts/{root}/{name}", content=body).json() == {}
        got = http.get(f"{PROXY}/artifacts/{root}/{name}")
        assert got.status_code == 200 and got.content == body
        assert got.headers["content-type"] == mime
        assert got.headers["content-disposition"] == f"attachment; filename={name.split('/')[-1]}"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-length"] == str(len(body))
        head = http.head(f"{PROXY}/artifacts/{root}/{name}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(body))


def test_missing_files_and_directories(http: httpx.Client, run_root: tuple[str, str]) -> None:
    _, root = run_root
    http.put(f"{PROXY}/artifacts/{root}/dir/a.txt", content=b"a")
    missing = http.get(f"{PROXY}/artifacts/{root}/nope.txt")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    directory = http.get(f"{PROXY}/artifacts/{root}/dir")
    assert directory.status_code == 400
    assert directory.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": f"Artifact path refers to a directory, not a file: '{root}/dir'",
    }


def test_listing_gives_basenames(http: httpx.Client, run_root: tuple[str, str]) -> None:
    _, root = run_root
    for name in ("a.txt", "dir/b.txt", "dir/deeper/c.txt"):
        http.put(f"{PROXY}/artifacts/{root}/{name}", content=b"x" * len(name))
    assert http.get(f"{PROXY}/artifacts", params={"path": root}).json() == {
        "files": [
            {"path": "a.txt", "is_dir": False, "file_size": 5},
            {"path": "dir", "is_dir": True},
        ]
    }
    assert http.get(f"/ajax-api/2.0/mlflow-artifacts/artifacts?path={root}/dir/").json() == {
        "files": [
            {"path": "b.txt", "is_dir": False, "file_size": 9},
            {"path": "deeper", "is_dir": True},
        ]
    }
    # MLflow's stores list nothing for a file, so the answer has no files at all.
    assert http.get(f"{PROXY}/artifacts", params={"path": f"{root}/a.txt"}).json() == {}
    assert http.get(f"{PROXY}/artifacts", params={"path": f"{root}/nothing"}).json() == {}
    top = http.get(f"{PROXY}/artifacts").json()["files"]
    assert {"path": "0", "is_dir": True} in top


def test_delete_a_file_and_a_directory(http: httpx.Client, run_root: tuple[str, str]) -> None:
    _, root = run_root
    for name in ("keep.txt", "drop.txt", "tree/a.txt", "tree/sub/b.txt"):
        http.put(f"{PROXY}/artifacts/{root}/{name}", content=b"1")
    assert http.delete(f"{PROXY}/artifacts/{root}/drop.txt").json() == {}
    assert http.delete(f"{PROXY}/artifacts/{root}/tree").json() == {}
    assert http.delete(f"{PROXY}/artifacts/{root}/never-was").json() == {}
    assert http.get(f"{PROXY}/artifacts", params={"path": root}).json() == {
        "files": [{"path": "keep.txt", "is_dir": False, "file_size": 1}]
    }


def test_multipart_and_presigned_are_refused_so_the_client_falls_back(
    http: httpx.Client, deployment: Deployment
) -> None:
    for op in ("create", "complete", "abort"):
        answer = http.post(f"{PROXY}/mpu/{op}/0/x/artifacts/big.bin", json={"path": "big.bin"})
        assert answer.status_code == 501
        assert answer.json() == {
            "error_code": "NOT_IMPLEMENTED",
            "message": "Multipart upload is not supported for the current artifact repository",
        }
    presigned = http.get(f"{PROXY}/presigned/0/x/artifacts/big.bin")
    assert presigned.status_code == 501
    info = http.get("/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False
    assert info["ledgerflow"]["artifact_store"] == deployment.store


def test_files_outside_run_and_model_roots_are_stored_without_events(
    http: httpx.Client, deployment: Deployment
) -> None:
    key = f"scratch/{uuid.uuid4().hex}.txt"
    assert http.put(f"{PROXY}/artifacts/{key}", content=b"loose").json() == {}
    assert http.get(f"{PROXY}/artifacts/{key}").content == b"loose"
    assert stored_events(deployment.database_url, key.split("/")[1]) == []


def test_run_scoped_listing(http: httpx.Client, run_root: tuple[str, str]) -> None:
    run_id, root = run_root
    for name in ("a.txt", "model/MLmodel", "model/data/w.bin"):
        http.put(f"{PROXY}/artifacts/{root}/{name}", content=b"abc")
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        listed = http.get(f"{prefix}/artifacts/list", params={"run_id": run_id}).json()
        assert listed == {
            "root_uri": f"mlflow-artifacts:/{root}",
            "files": [
                {"path": "a.txt", "is_dir": False, "file_size": 3},
                {"path": "model", "is_dir": True},
            ],
        }
    listed = http.get(
        "/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "model"}
    ).json()
    assert listed["files"] == [
        {"path": "model/MLmodel", "is_dir": False, "file_size": 3},
        {"path": "model/data", "is_dir": True},
    ]
    missing = http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": "f" * 32})
    assert missing.status_code == 404
    assert missing.json()["message"] == f"Run with id={'f' * 32} not found"
    unsafe = http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": "../x"})
    assert unsafe.status_code == 400 and unsafe.json()["message"].startswith("Invalid path")
    no_run = http.get("/api/2.0/mlflow/artifacts/list")
    assert no_run.status_code == 400
    assert "run_id" in no_run.json()["message"]


def test_verify_reports_what_the_store_holds(
    http: httpx.Client, deployment: Deployment, run_root: tuple[str, str]
) -> None:
    run_id, root = run_root
    http.put(f"{PROXY}/artifacts/{root}/a.txt", content=b"aaa")
    http.put(f"{PROXY}/artifacts/{root}/b.txt", content=b"bb")
    report = http.get(f"/api/ledgerflow/runs/{run_id}/artifacts/verify").json()
    assert report == {
        "run_id": run_id,
        "root": root,
        "ok": True,
        "recorded": 2,
        "collected": 0,
        "stored": 2,
        "checked_bytes": 5,
        "missing": [],
        "extra": [],
        "mismatched": [],
    }
    http.delete(f"{PROXY}/artifacts/{root}/b.txt")  # deletes are not recorded: now missing
    report = http.get(f"/api/ledgerflow/runs/{run_id}/artifacts/verify").json()
    assert report["missing"] == [
        {"path": "b.txt", "size": 2, "sha256": hashlib.sha256(b"bb").hexdigest()}
    ]
    unknown = http.get(f"/api/ledgerflow/runs/{'e' * 32}/artifacts/verify")
    assert unknown.status_code == 404
    assert [e["payload"]["path"] for e in stored_events(deployment.database_url, run_id)] == [
        f"{root}/a.txt",
        f"{root}/b.txt",
    ]
