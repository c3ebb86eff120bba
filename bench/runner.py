"""One benchmark run: start the servers and the client pool, run every workload against every
server, gather the machine's facts, write the reports."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench import report
from bench.clients import ClientPool
from bench.servers import ROOT, running_servers
from bench.sizes import Sizes
from bench.targets import HTTP_WORKLOADS, build_rows
from bench.workloads import WORKLOADS, Workloads


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _kafka_version() -> str | None:
    jars = Path(os.environ.get("LEDGERFLOW_KAFKA_JARS", ROOT / ".cache" / "kafka")) / "jars"
    for jar in sorted(jars.glob("kafka_2.13-*.jar")):
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return None


def _git_commit() -> str | None:
    """The commit measured, with "+changes" when the work tree differs from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return (commit + ("+changes" if dirty else "")) or None


def _elapsed(started: float) -> str:
    return f"{time.monotonic() - started:.0f}s"


def run(
    *,
    output: Path,
    sizes: Sizes,
    server_names: list[str],
    mode: str,
    command: str,
    workdir: Path | None = None,
    keep_workdir: bool = False,
) -> dict[str, Any]:
    started = time.monotonic()
    commit = _git_commit()
    started_at = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    load_start = round(os.getloadavg()[0], 2)
    work = workdir or Path(tempfile.mkdtemp(prefix="ledgerflow-bench-"))
    print(f"benchmark ({mode}): servers {', '.join(server_names)}; work dir {work}", flush=True)
    results: dict[str, Any] = {"workloads": {}}
    try:
        with running_servers(server_names, work) as (servers, stack):
            print(
                f"servers ready ({_elapsed(started)}): "
                + ", ".join(f"{s.name} {s.url}" for s in servers),
                flush=True,
            )
            with ClientPool(max(sizes.client_counts())) as pool:
                workloads = Workloads(pool, servers, sizes)
                print(f"warm-up ({_elapsed(started)}):", flush=True)
                workloads.warm_up()
                order = [WORKLOADS[0], "sdk_ingest", *WORKLOADS[1:], *HTTP_WORKLOADS]
                for name in order:
                    if name == "sdk_ingest" and not any(
                        s.name == "ledgerflow-cluster" for s in servers
                    ):
                        continue
                    print(f"{name} ({_elapsed(started)}):", flush=True)
                    results["workloads"][name] = getattr(workloads, name)()
            postgres = stack.postgres_version()
            results["servers"] = {
                s.name: {"reference": s.reference, "store": s.store, "config": s.config}
                for s in servers
            }
    finally:
        if not keep_workdir and workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    results = {
        "benchmark": "ledgerflow vs the reference mlflow server, side by side",
        "command": command,
        "mode": mode,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "duration_s": round(time.monotonic() - started, 1),
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu": _cpu_model(),
            "platform": platform.platform(),
            "load_average_start": load_start,
            "load_average_end": round(os.getloadavg()[0], 2),
        },
        "versions": {
            "ledgerflow": importlib.metadata.version("ledgerflow"),
            "git_commit": commit,
            "mlflow": importlib.metadata.version("mlflow"),
            "python": sys.version.split()[0],
            "postgres": postgres,
            "kafka": _kafka_version(),
        },
        "settings": sizes.as_dict(),
        **results,
    }
    write_reports(results, output)
    return results


def write_reports(results: dict[str, Any], output: Path) -> None:
    """results.json (with the comparison rows), results.md and chart.png into `output`."""
    rows = build_rows(results, results["servers"])
    results["comparison"] = [row.as_dict() for row in rows]
    output.mkdir(parents=True, exist_ok=True)
    report.write_json(output / "results.json", results)
    (output / "results.md").write_text(report.markdown(results, rows))
    report.write_chart(output / "chart.png", rows)
    print(f"wrote {output}/results.json, results.md, chart.png", flush=True)
    readme = ROOT / "README.md"
    ours = output.resolve() == (ROOT / "docs" / "benchmarks").resolve()
    if (
        ours
        and results["mode"] == "full"
        and report.update_readme(readme, report.summary(results, rows))
    ):
        print(f"updated the performance table in {readme}", flush=True)
