"""1 GiB up and down through the gateway (local store): SHA-256 end to end, and the gateway's
memory stays far below the file size (sampled with psutil during both transfers)."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.artifacts.conftest import Deployment, embedded_local

pytestmark = pytest.mark.slow

SIZE = 1024**3
CHUNK = 1024 * 1024
RSS_LIMIT = 300 * 1024 * 1024


class PeakRss:
    """Samples a process's resident set size every few milliseconds in a thread."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def gateway_process(url: str) -> psutil.Process:
    port = url.rsplit(":", 1)[1]
    for child in psutil.Process().children():
        command = child.cmdline()
        if "services.cli" in command and "server" in command and port in command:
            return child
    raise AssertionError(f"no gateway process for {url}")


class GeneratedBody:
    """SIZE bytes, generated and hashed chunk by chunk: never held whole, here either."""

    def __init__(self) -> None:
        self.block = random.Random(20).randbytes(CHUNK)
        self.digest = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        for index in range(SIZE // CHUNK):
            chunk = index.to_bytes(8, "big") + self.block[8:]
            self.digest.update(chunk)
            yield chunk


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with embedded_local(tmp_path_factory.mktemp("large")) as deployed:
        yield deployed


def test_one_gib_up_and_down(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    url = deployment.url
    run = httpx.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()
    run_id = run["run"]["info"]["run_id"]
    key = f"0/{run_id}/artifacts/big.bin"
    gateway = gateway_process(url)
    baseline = gateway.memory_info().rss
    body = GeneratedBody()
    timeout = httpx.Timeout(600, connect=10)

    with PeakRss(gateway) as upload_rss:
        started = time.monotonic()
        response = httpx.put(
            f"{url}/api/2.0/mlflow-artifacts/artifacts/{key}",
            content=iter(body),
            headers={"Content-Length": str(SIZE), "Content-Type": "application/octet-stream"},
            timeout=timeout,
        )
        upload_seconds = time.monotonic() - started
    assert response.status_code == 200, response.text
    sent_sha = body.digest.hexdigest()

    assert deployment.local_root is not None
    assert (deployment.local_root / key).stat().st_size == SIZE
    report = httpx.get(f"{url}/api/ledgerflow/runs/{run_id}/artifacts/verify", timeout=timeout)
    assert report.json()["ok"] and report.json()["checked_bytes"] == SIZE, report.text

    received = hashlib.sha256()
    size = 0
    with PeakRss(gateway) as download_rss:
        started = time.monotonic()
        with httpx.stream(
            "GET", f"{url}/api/2.0/mlflow-artifacts/artifacts/{key}", timeout=timeout
        ) as download:
            assert download.status_code == 200
            assert download.headers["content-length"] == str(SIZE)
            for chunk in download.iter_bytes(CHUNK):
                received.update(chunk)
                size += len(chunk)
        download_seconds = time.monotonic() - started
    assert (size, received.hexdigest()) == (SIZE, sent_sha)

    listed = httpx.get(f"{url}/api/2.0/mlflow/artifacts/list", params={"run_id": run_id}).json()
    assert listed["files"] == [{"path": "big.bin", "is_dir": False, "file_size": SIZE}]

    mib = 1024 * 1024
    with capsys.disabled():
        print(
            f"\n1 GiB through the gateway: upload {upload_seconds:.1f}s "
            f"({SIZE / mib / upload_seconds:.0f} MiB/s), download {download_seconds:.1f}s "
            f"({SIZE / mib / download_seconds:.0f} MiB/s); gateway RSS baseline "
            f"{baseline / mib:.0f} MiB, peak during upload {upload_rss.peak / mib:.0f} MiB, "
            f"during download {download_rss.peak / mib:.0f} MiB"
        )
    assert upload_rss.peak < RSS_LIMIT
    assert download_rss.peak < RSS_LIMIT


def test_the_file_is_on_disk_once(deployment: Deployment) -> None:
    # Nothing is left in the store's incoming directory after the upload.
    assert deployment.local_root is not None
    incoming = Path(deployment.local_root) / ".ledgerflow-incoming"
    assert list(incoming.iterdir()) == []
