"""The benchmark's smoke run: `python -m bench --quick` end to end against real servers (a
ledgerflow cluster on the real Kafka broker, mlflow server on SQLite and on PostgreSQL), tiny
sizes. It checks the shape of what the benchmark writes, never how fast anything was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from bench.targets import HTTP_WORKLOADS
from bench.workloads import WORKLOADS

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ["ledgerflow-cluster", "mlflow-sqlite-w1", "mlflow-postgres-w1"]


@pytest.mark.bench
@pytest.mark.kafka
@pytest.mark.timeout(420)
def test_quick_benchmark_writes_every_result(tmp_path: Path) -> None:
    output = tmp_path / "out"
    workdir = tmp_path / "work"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--output",
            str(output),
            "--workdir",
            str(workdir),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    # every server it started is gone: PostgreSQL, Kafka, mlflow, ledgerflow
    left = [
        p.info["cmdline"]
        for p in psutil.process_iter(["cmdline"])
        if any(str(workdir) in part for part in p.info["cmdline"] or ())
    ]
    assert not left, left

    results = json.loads((output / "results.json").read_text())
    assert set(results["servers"]) == set(SERVERS)
    assert results["mode"] == "quick"
    for fact in ("cores", "memory_gb", "load_average_start"):
        assert fact in results["machine"]
    assert results["versions"]["mlflow"] == "3.17.2"
    for workload in (*WORKLOADS, *HTTP_WORKLOADS):
        for server in SERVERS:
            phases = results["workloads"][workload][server]
            assert phases, (workload, server)
            for clients, shown in phases.items():
                # --quick runs each phase twice and shows the median (the worse of the two)
                assert len(shown["repetitions"]) == 2, (workload, server, clients)
                assert shown == {
                    **shown["repetitions"][shown["repetition"]],
                    "repetition": shown["repetition"],
                    "repetitions": shown["repetitions"],
                }
                for index, phase in enumerate(shown["repetitions"]):
                    where = (workload, server, clients, index)
                    assert "error" not in phase, (where, phase.get("error"))
                    assert not phase["errors"], (where, phase["errors"][:3])
                    assert phase["samples"] > 0, where
                    assert phase["p50_ms"] > 0 and phase["p99_ms"] >= phase["p50_ms"], where
                    if "verified" in phase:
                        assert phase["verified"]["ok"], (where, phase["verified"])
    sdk = results["workloads"]["sdk_ingest"]["ledgerflow-cluster"]
    assert all(
        p["points"] > 0 and p["verified"]["ok"] for s in sdk.values() for p in s["repetitions"]
    ), sdk
    assert any(p["peak_rss_mb"].get("projector", 0) > 0 for p in sdk.values())

    measures = {(row["workload"], row["measure"]) for row in results["comparison"]}
    assert ("log_batch", "points/s") in measures
    assert ("sdk_ingest", "end-to-end points/s") in measures
    # every ratio with a target, in each of the two repetitions (memory is a peak, no ratio)
    targeted = [r for r in results["comparison"] if r["target"] and r["workload"] != "memory"]
    assert targeted
    assert all(len(row["per_repetition"]) == 2 for row in targeted), [
        (row["workload"], row["measure"], row["per_repetition"]) for row in targeted
    ]

    # the same requests without the mlflow client: a ratio per row and per repetition
    plain = [r for r in results["comparison"] if r["workload"] in HTTP_WORKLOADS]
    assert {r["workload"] for r in plain} == set(HTTP_WORKLOADS)
    assert all(
        r["ratios"]["ledgerflow-cluster"] and len(r["per_repetition"]) == 2 and not r["target"]
        for r in plain
    ), plain

    table = (output / "results.md").read_text()
    for server in SERVERS:
        assert server in table
    assert "| Workload |" in table and "![ratios](chart.png)" in table
    assert "| Per repetition |" in table and "Each phase ran 2 times" in table
    assert "| get_metric_history, plain HTTP | 1 | latency p50 (ms) |" in table
    assert (output / "chart.png").read_bytes().startswith(b"\x89PNG")
