"""The UI's own JSON endpoints and static files, over plain HTTP against a small server of their
own (the tests here change its data): experiments with run counts and last activity, the
system summary (ingest rate, audit chains), and the page, which never shadows an API path."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from tests.e2e.server import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("ui-endpoints") / "ledgerflow-data"
    with running_server(data_dir) as url:
        yield url, data_dir


def summary(url: str, **params: str) -> httpx.Response:
    return httpx.get(f"{url}/api/ledgerflow/ui/experiments", params=params)


def test_experiments_with_run_counts_and_last_activity(server: tuple[str, Path]) -> None:
    url, _ = server
    client = MlflowClient(tracking_uri=url)
    busy = client.create_experiment("busy")
    quiet = client.create_experiment("quiet")
    gone = client.create_experiment("gone")
    runs = [client.create_run(busy).info.run_id for _ in range(3)]
    client.delete_run(runs[0])
    later = int(time.time() * 1000) + 60_000  # a metric timestamp after everything else
    client.log_batch(runs[1], metrics=[Metric("loss", 0.5, later, 3)])
    client.create_run(gone)
    client.delete_experiment(gone)

    answer = summary(url)
    assert answer.status_code == 200
    body = answer.json()
    assert body["truncated"] is False
    by_name = {e["name"]: e for e in body["experiments"]}
    assert set(by_name) == {"Default", "busy", "quiet"}  # ACTIVE_ONLY by default
    assert by_name["busy"]["runs"] == {"active": 2, "deleted": 1}
    assert by_name["busy"]["last_activity"] == later  # the latest metric point
    assert by_name["quiet"]["runs"] == {"active": 0, "deleted": 0}
    assert by_name["quiet"]["last_activity"] == by_name["quiet"]["last_update_time"]
    assert by_name["busy"]["experiment_id"] == busy and by_name["quiet"]["experiment_id"] == quiet
    # Most recently active first.
    assert body["experiments"][0]["name"] == "busy"
    activity = [e["last_activity"] for e in body["experiments"]]
    assert activity == sorted(activity, reverse=True)

    deleted = summary(url, view_type="DELETED_ONLY").json()["experiments"]
    assert [(e["name"], e["lifecycle_stage"]) for e in deleted] == [("gone", "deleted")]
    assert deleted[0]["runs"] == {"active": 0, "deleted": 1}  # deleted with its experiment
    assert len(summary(url, view_type="ALL").json()["experiments"]) == 4

    first = summary(url, max_results="1").json()
    assert first["truncated"] is True and [e["name"] for e in first["experiments"]] == ["busy"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"view_type": "SOME"}, "Invalid value 'SOME' for parameter 'view_type'"),
        ({"max_results": "0"}, "Invalid value '0' for parameter 'max_results'"),
        ({"max_results": "x"}, "Invalid value 'x' for parameter 'max_results'"),
    ],
)
def test_experiments_refuse_bad_parameters(
    server: tuple[str, Path], params: dict[str, str], message: str
) -> None:
    answer = summary(server[0], **params)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert answer.json()["message"].startswith(message)


def test_system_summary_counts_ingest_and_reads_audit_checkpoints(
    server: tuple[str, Path],
) -> None:
    url, data_dir = server
    client = MlflowClient(tracking_uri=url)
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("m", float(i), 0, i) for i in range(10)])

    body = httpx.get(f"{url}/api/ledgerflow/ui/system", params={"minutes": "5"}).json()
    ingest = body["ingest"]
    assert ingest["window_minutes"] == 5 and len(ingest["minutes"]) == 5
    minutes = [m["minute"] for m in ingest["minutes"]]
    assert minutes == sorted(minutes) and body["now"][:16] >= minutes[-1][:16]
    kinds = {t["event_type"]: t for t in ingest["by_type"]}
    assert kinds["metrics.logged"]["events"] >= 1 and kinds["run.created"]["events"] >= 1
    assert sum(m["control"] + m["data"] for m in ingest["minutes"]) == sum(
        t["events"] for t in ingest["by_type"]
    )
    assert ingest["events_per_second"]["last_minute"] > 0

    audit = body["audit"]
    control = next(c for c in audit["chains"] if c["chain"] == "ledgerflow.control/0")
    assert control["head_matches"] and control["checkpoint_matches"]
    assert control["verified_seq"] is None and control["unverified_links"] == control["head_seq"]
    assert audit["links"] == sum(c["head_seq"] for c in audit["chains"])
    assert audit["dead_letters"] == 0

    # After an incremental verification the page shows where it found each chain intact.
    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "audit",
            "verify",
            "--incremental",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    audit = httpx.get(f"{url}/api/ledgerflow/ui/system").json()["audit"]
    for chain in audit["chains"]:
        assert chain["verified_seq"] == chain["head_seq"] and chain["unverified_links"] == 0
        assert chain["verified_at"] is not None
    assert audit["unverified_links"] == 0


@pytest.mark.parametrize("minutes", ["0", "1441", "soon"])
def test_system_summary_refuses_a_bad_window(server: tuple[str, Path], minutes: str) -> None:
    answer = httpx.get(f"{server[0]}/api/ledgerflow/ui/system", params={"minutes": minutes})
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_the_page_and_its_files_with_security_headers(server: tuple[str, Path]) -> None:
    url, _ = server
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/ui/app.js">' in page.text
    assert httpx.head(f"{url}/").status_code == 200
    for path, kind in [
        ("/ui/app.js", "javascript"),
        ("/ui/views/run.js", "javascript"),
        ("/ui/app.css", "text/css"),
        ("/ui/vendor/uPlot.iife.min.js", "javascript"),
    ]:
        answer = httpx.get(f"{url}{path}")
        assert answer.status_code == 200 and kind in answer.headers["content-type"], path
        assert answer.headers["cache-control"] == "no-cache"
        again = httpx.get(f"{url}{path}", headers={"if-none-match": answer.headers["etag"]})
        assert again.status_code == 304, path


def test_api_paths_win_over_the_ui(server: tuple[str, Path]) -> None:
    url, _ = server
    assert httpx.get(f"{url}/health").text == "OK"
    search = httpx.post(f"{url}/api/2.0/mlflow/experiments/search", json={"max_results": 10})
    assert search.status_code == 200 and "experiments" in search.json()
    for path in (
        "/api/2.0/mlflow/no-such-endpoint",
        "/ui/no-such-file.js",
        "/ui/../pyproject.toml",
        "/static/app.js",
        "/experiments/1",
    ):
        missing = httpx.get(f"{url}{path}")
        assert missing.status_code == 404, path
        assert missing.json()["error_code"] == "ENDPOINT_NOT_FOUND", path
    refused = httpx.post(f"{url}/", json={})
    assert refused.status_code == 405 and refused.json()["error_code"] == "ENDPOINT_NOT_FOUND"
