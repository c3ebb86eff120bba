"""The servers under test, started and stopped by the benchmark on loopback: the shared stack
(a Kafka broker, one embedded PostgreSQL), ledgerflow in cluster and embedded mode, and the
reference `mlflow server` with SQLite and PostgreSQL backends.

Each server is a `Server` (name, URL, the processes whose memory counts, the configuration to
report); its `store` names where its data lives, so two servers on one store (mlflow with its
default workers and with `--workers 1`) share the data prepared for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]

# What `--servers` accepts. The reference servers run as a user would start them (mlflow's
# defaults: 4 uvicorn workers); the `-w1` variants add `--workers 1`, which keeps TCP_NODELAY
# (uvicorn issue 3149), for fairness.
LEDGERFLOW_SERVERS = ("ledgerflow-cluster", "ledgerflow-embedded")
REFERENCE_SERVERS = ("mlflow-sqlite", "mlflow-postgres", "mlflow-sqlite-w1", "mlflow-postgres-w1")
ALL_SERVERS = LEDGERFLOW_SERVERS + REFERENCE_SERVERS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    store: str
    url: str
    reference: bool
    config: dict[str, Any]
    log: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    """The server's own processes, by role (gateway, projector; server for mlflow)."""
    support: dict[str, int] = field(default_factory=dict)
    """Processes it depends on, by role (postgres, kafka), shared with other servers."""

    def pids(self) -> dict[str, int]:
        """Every process tree whose memory and CPU a phase records, by role."""
        return {**{role: p.pid for role, p in self.processes.items()}, **self.support}


def postmaster_pid(pgdata: Path) -> int | None:
    """The PostgreSQL server process whose data directory is `pgdata`, if one runs."""
    target = str(pgdata.resolve())
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "-D" in cmdline and target in cmdline:
            return int(process.pid)
    return None


class Processes:
    """Every process the benchmark started, stopped (by its process group) in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
            )
        self._started.append((name, process))
        return process

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def stop_all(self) -> None:
        for _, process in reversed(self._started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for _, process in reversed(self._started):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._started.clear()


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url}: not healthy after {timeout:.0f}s; see {log}")


def wait_default_experiment(url: str, processes: list[subprocess.Popen[bytes]], log: Path) -> None:
    """A fresh ledgerflow cluster is usable once the projector has created experiment 0."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError(f"a ledgerflow process exited; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(
                f"{url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}, timeout=5
            )
            if response.status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"experiment 0 not projected after 180s; see {log}")


# ---- the shared stack


class Stack:
    """The Kafka broker (only if a cluster is benchmarked) and one embedded PostgreSQL server
    whose databases the ledgerflow cluster and mlflow's PostgreSQL store use."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._broker: Any = None
        self._postgres_dsn: str | None = None

    def kafka(self) -> str:
        if self._broker is None:
            from deploy.kafka import broker

            jars = Path(os.environ.get("LEDGERFLOW_KAFKA_JARS", ROOT / ".cache" / "kafka"))
            self._broker = broker.KafkaBroker(
                broker.ensure_jars(jars), workdir=self.workdir / "kafka"
            )
            self._broker.start()
        return str(self._broker.bootstrap_servers)

    def postgres(self) -> str:
        if self._postgres_dsn is None:
            from services.store.embedded import start_embedded_postgres

            self._postgres_dsn = start_embedded_postgres(
                self.workdir / "postgres", delete_on_exit=True
            )
        return self._postgres_dsn

    def database(self, name: str) -> str:
        """A fresh database on the embedded server; its DSN (a Unix socket, `?host=`)."""
        from services.store.databases import create_database

        return asyncio.run(create_database(self.postgres(), name))

    def support_pids(self) -> dict[str, int]:
        """The shared PostgreSQL and Kafka processes, by role."""
        pids = {}
        if self._postgres_dsn is not None:
            pid = postmaster_pid(self.workdir / "postgres" / "postgres")
            if pid is not None:
                pids["postgres"] = pid
        if self._broker is not None and self._broker.process is not None:
            pids["kafka"] = int(self._broker.process.pid)
        return pids

    def postgres_version(self) -> str | None:
        if self._postgres_dsn is None:
            return None

        async def fetch() -> str:
            conn = await asyncpg.connect(self._postgres_dsn)
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def close(self) -> None:
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
        if self._postgres_dsn is not None:
            # now, while its directory exists: the library's exit hook would run after the work
            # directory is deleted, and could no longer stop the server
            from services.store.embedded import release_embedded_postgres

            release_embedded_postgres(self.workdir / "postgres")
            self._postgres_dsn = None


# ---- the servers


def _cluster_defaults() -> str:
    """The settings the cluster runs with (ledgerflow's defaults), as the report states them."""
    from services.projector.settings import ProjectorSettings
    from services.settings import CoreSettings, KafkaSettings

    kafka, projector = KafkaSettings(), ProjectorSettings()
    return (
        f"defaults ({CoreSettings().data_partitions} data partitions, Kafka linger "
        f"{kafka.linger_ms} ms, projector batch up to {projector.max_batch}, projector fetch wait "
        f"{projector.fetch_max_wait_ms} ms)"
    )


def _ledgerflow_cluster(stack: Stack, procs: Processes, workdir: Path) -> Server:
    database_url = stack.database(f"lf_{uuid.uuid4().hex[:8]}")
    env = {
        "LEDGERFLOW_LOG_BACKEND": "kafka",
        "LEDGERFLOW_DATABASE_URL": database_url,
        "LEDGERFLOW_KAFKA_BOOTSTRAP_SERVERS": stack.kafka(),
        "LEDGERFLOW_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
    }
    projector = procs.start(
        "ledgerflow-projector",
        [sys.executable, "-m", "services.cli", "projector"],
        {**env, "LEDGERFLOW_DATA_DIR": str(workdir / "lf-projector")},
    )
    port = free_port()
    gateway = procs.start(
        "ledgerflow-gateway",
        [sys.executable, "-m", "services.cli", "server", "--port", str(port)],
        {**env, "LEDGERFLOW_DATA_DIR": str(workdir / "lf-gateway")},
    )
    return Server(
        name="ledgerflow-cluster",
        store="ledgerflow-cluster",
        url=f"http://127.0.0.1:{port}",
        reference=False,
        config={
            "mode": "cluster: 1 gateway + 1 faust projector, Kafka log, embedded PostgreSQL",
            "command": "ledgerflow server; ledgerflow projector",
            "settings": _cluster_defaults(),
        },
        log=procs.log_of("ledgerflow-gateway"),
        processes={"gateway": gateway, "projector": projector},
    )


def _ledgerflow_embedded(procs: Processes, workdir: Path) -> Server:
    port = free_port()
    gateway = procs.start(
        "ledgerflow-embedded",
        [
            sys.executable,
            "-m",
            "services.cli",
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(workdir / "lf-embedded"),
        ],
        {},
    )
    return Server(
        name="ledgerflow-embedded",
        store="ledgerflow-embedded",
        url=f"http://127.0.0.1:{port}",
        reference=False,
        config={
            "mode": "embedded: one process, PostgreSQL event table, in-process projector",
            "command": "ledgerflow server --data-dir D",
        },
        log=procs.log_of("ledgerflow-embedded"),
        processes={"gateway": gateway},
    )


def _mlflow(name: str, procs: Processes, workdir: Path, backend_uri: str, store: str) -> Server:
    port = free_port()
    workers = ["--workers", "1"] if name.endswith("-w1") else []
    argv = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(workdir / f"{store}-artifacts"),
        *workers,
    ]
    server = procs.start(name, argv, {"MLFLOW_DISABLE_TELEMETRY": "true"})  # as the clients
    shown = [a if a != backend_uri else backend_uri.split("?")[0] for a in argv[1:]]
    return Server(
        name=name,
        store=store,
        url=f"http://127.0.0.1:{port}",
        reference=True,
        config={
            "command": "python " + " ".join(shown),
            "workers": 1 if workers else "4 (mlflow's default)",
            "worker_processes": 1 if workers else 4,
            "backend": backend_uri.split(":")[0].split("+")[0],
            "version": importlib.metadata.version("mlflow"),
        },
        log=procs.log_of(name),
        processes={"server": server},
    )


def wait_workers(server: Server, timeout: float) -> None:
    """mlflow's /health answers once one uvicorn worker runs; wait for all of them (their
    "Application startup complete." lines), or the first requests measure worker start-up."""
    workers = server.config.get("worker_processes", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = server.log.read_text(errors="replace") if server.log.exists() else ""
        if text.count("Application startup complete.") >= workers:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{server.name}: {workers} workers not started after {timeout:.0f}s")


def _start_order(names: list[str]) -> list[str]:
    """Reference servers first (their start-up runs while Kafka and ledgerflow start), the
    `-w1` variants last (they wait for their store's first server to create its tables)."""
    return sorted(names, key=lambda n: 0 if n in REFERENCE_SERVERS[:2] else 2 if "-w1" in n else 1)


@contextlib.contextmanager
def running_servers(names: list[str], workdir: Path) -> Iterator[tuple[list[Server], Stack]]:
    """Start every named server (all at once, then wait for each), yield them in the order
    named, stop them."""
    stack = Stack(workdir / "stack")
    procs = Processes(workdir / "logs")
    try:
        servers: dict[str, Server] = {}
        mlflow_stores: dict[str, str] = {}
        for name in _start_order(names):
            if name == "ledgerflow-cluster":
                servers[name] = _ledgerflow_cluster(stack, procs, workdir)
            elif name == "ledgerflow-embedded":
                servers[name] = _ledgerflow_embedded(procs, workdir)
            else:
                store = name.removesuffix("-w1")
                if store not in mlflow_stores:
                    mlflow_stores[store] = (
                        f"sqlite:///{workdir / 'mlflow.db'}"
                        if store == "mlflow-sqlite"
                        # mlflow picks psycopg 3 for a bare postgresql://; name psycopg2.
                        else stack.database(f"mlflow_{uuid.uuid4().hex[:8]}").replace(
                            "postgresql://", "postgresql+psycopg2://", 1
                        )
                    )
                # Two servers on one new database would both create its tables at once.
                for first in servers.values():
                    if first.store == store:
                        wait_healthy(first.url, first.processes["server"], first.log, 300)
                servers[name] = _mlflow(name, procs, workdir, mlflow_stores[store], store)
        for server in servers.values():
            main = next(iter(server.processes.values()))
            wait_healthy(server.url, main, server.log, 300)
            if server.reference:
                wait_workers(server, 300)
            else:
                wait_default_experiment(server.url, list(server.processes.values()), server.log)
        shared = stack.support_pids()
        for server in servers.values():
            if server.name == "ledgerflow-cluster":
                server.support = shared
            elif server.name == "ledgerflow-embedded":
                pid = postmaster_pid(workdir / "lf-embedded" / "postgres")
                server.support = {"postgres": pid} if pid else {}
            elif server.store == "mlflow-postgres" and "postgres" in shared:
                server.support = {"postgres": shared["postgres"]}
        yield [servers[name] for name in names], stack
    finally:
        procs.stop_all()
        stack.close()
