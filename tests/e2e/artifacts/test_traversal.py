"""Path traversal through the HTTP API, sent as raw request targets (no client-side normalising):
every spelling is refused with MLflow's error, and nothing outside the artifact root changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.artifacts.conftest import Deployment, embedded_local

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, Path]]:
    workdir = tmp_path_factory.mktemp("traversal")
    # <workdir>/sentinel.txt and <workdir>/outside/sentinel.txt sit one and two levels above
    # the root <workdir>/outside/artifacts.
    (workdir / "sentinel.txt").write_bytes(b"top-level secret")
    (workdir / "outside").mkdir()
    (workdir / "outside" / "sentinel.txt").write_bytes(b"next to the root")
    with embedded_local(workdir) as deployed:
        yield deployed, workdir


def attacks(workdir: Path) -> list[str]:
    absolute = str(workdir / "sentinel.txt")
    return [
        "../sentinel.txt",
        "../../sentinel.txt",
        "0/../../sentinel.txt",
        "0/x/artifacts/../../../../sentinel.txt",
        "%2e%2e/sentinel.txt",
        "%2E%2E/%2e%2e/sentinel.txt",
        "%252e%252e/sentinel.txt",
        "%25252e%25252e/%25252e%25252e/sentinel.txt",
        "..%2fsentinel.txt",
        "..%2F..%2Fsentinel.txt",
        "%2e%2e%2f%2e%2e%2fsentinel.txt",
        "..%252f..%252fsentinel.txt",
        "..%5csentinel.txt",
        "..%5c..%5csentinel.txt",
        "..\\..\\sentinel.txt",
        "/" + absolute.lstrip("/"),
        "%2f" + absolute.lstrip("/"),
        "%252f" + absolute.lstrip("/"),
        "sentinel.txt%00.png",
        "a//b.txt",
    ]


def snapshot(workdir: Path) -> dict[str, tuple[bytes, int]]:
    """Every file outside the database directory: contents and modification time."""
    found = {}
    for path in workdir.rglob("*"):
        if path.is_file() and "ledgerflow-data" not in path.parts and "server-" not in path.name:
            found[str(path.relative_to(workdir))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def send(url: str, method: str, target: str, body: bytes = b"") -> httpx.Response:
    with httpx.Client(timeout=30) as http:
        request = http.build_request(
            method, url + "/", content=body, extensions={"target": target.encode()}
        )
        return http.send(request)


def assert_refused(response: httpx.Response, what: str) -> None:
    assert response.status_code == 400, (what, response.status_code, response.text)
    error = response.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE", (what, error)
    assert error["message"].startswith("Invalid path: "), (what, error)


def test_traversal_is_refused_and_touches_nothing(server: tuple[Deployment, Path]) -> None:
    deployment, workdir = server
    before = snapshot(workdir)
    assert "sentinel.txt" in before and "outside/sentinel.txt" in before
    for attack in attacks(workdir):
        for method, body in (("PUT", b"pwned"), ("GET", b""), ("DELETE", b"")):
            assert_refused(send(deployment.url, method, f"{PROXY}/{attack}", body), attack)
        listing = send(deployment.url, "GET", f"{PROXY}?path={attack}")
        assert_refused(listing, f"list {attack}")
        for method, target in (
            ("PUT", f"/ajax-api/2.0/mlflow-artifacts/artifacts/{attack}"),
            ("POST", f"/api/2.0/mlflow-artifacts/mpu/create/{attack}"),
        ):
            assert_refused(send(deployment.url, method, target), target)
    assert snapshot(workdir) == before, "files outside (and inside) the root are unchanged"
    assert deployment.local_root is not None
    assert not any(p.is_file() for p in deployment.local_root.rglob("*"))


def test_the_run_scoped_listing_refuses_traversal_too(server: tuple[Deployment, Path]) -> None:
    deployment, _ = server
    run = httpx.post(
        f"{deployment.url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}
    ).json()["run"]["info"]
    for attack in ("..", "../..", "%2e%2e", "%252e%252e/%252e%252e", "..%2f..", "/etc"):
        answer = send(
            deployment.url,
            "GET",
            f"/api/2.0/mlflow/artifacts/list?run_id={run['run_id']}&path={attack}",
        )
        assert_refused(answer, attack)


def test_ordinary_names_with_dots_and_escapes_still_work(server: tuple[Deployment, Path]) -> None:
    deployment, _ = server
    for name, stored_as in [
        ("0/r/artifacts/..hidden..", "..hidden.."),
        ("0/r/artifacts/v1.2...tar.gz", "v1.2...tar.gz"),
        ("0/r/artifacts/with%20space.txt", "with space.txt"),
    ]:
        assert send(deployment.url, "PUT", f"{PROXY}/{name}", b"ok").status_code == 200
        assert deployment.local_root is not None
        assert (deployment.local_root / "0" / "r" / "artifacts" / stored_as).read_bytes() == b"ok"
