"""The workloads across servers: prepare each store's data (untimed), run a phase per server and
client count in the client pool, wait until ledgerflow's writes are queryable, summarize.

Phases are interleaved workload-major (every server for one workload and client count, then
the next), so servers are compared under the same background load of the machine.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric

from bench import tasks
from bench.clients import ClientPool, Phase, Task
from bench.repetitions import PRIMARY_MEASURE, representative
from bench.resources import ResourceSampler, sampling
from bench.servers import Server
from bench.sizes import Sizes
from bench.stats import latency_summary, rate

SEARCH_FILTER = "metrics.score > 0.5 and params.group = 'a'"
SEARCH_ORDER = ["metrics.score DESC"]
HISTORY_KEY = "h"

Result = dict[str, Any]


def search_fixture(index: int) -> tuple[float, str]:
    """The metric and param of search run `index`: deterministic, so the match count is known."""
    return ((index * 7919) % 1000) / 1000, "abcd"[index % 4]


def search_expected(runs: int) -> int:
    return sum(1 for i in range(runs) if (f := search_fixture(i))[0] > 0.5 and f[1] == "a")


def _errors(results: list[Result]) -> list[str]:
    return [e for r in results for e in r.get("errors", [])]


def _resources(sampler: ResourceSampler, phase: Phase) -> Result:
    return {
        "sampled_s": sampler.wall_seconds(),
        "peak_rss_mb": sampler.peaks_mb(),
        "cpu_s": {
            **sampler.cpu_seconds(),
            "clients": round(sum(r.get("client_cpu_s", 0.0) for r in phase.results), 2),
        },
    }


def _phase_facts(phase: Phase, clients: int) -> Result:
    return {
        "clients": clients,
        "seconds": round(phase.end - phase.go, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


class Workloads:
    def __init__(self, pool: ClientPool, servers: list[Server], sizes: Sizes) -> None:
        self.pool = pool
        self.servers = servers
        self.sizes = sizes
        self.experiments: dict[str, str] = {}
        self.prepared: dict[str, dict[str, Any]] = {}

    # ---- helpers

    def experiment(self, server: Server, purpose: str) -> str:
        """An experiment of this store for one purpose (created once per store)."""
        key = f"{server.store}/{purpose}"
        if key not in self.experiments:
            name = f"bench-{purpose}-{uuid.uuid4().hex[:6]}"
            self.experiments[key] = MlflowClient(server.url).create_experiment(name)
        return self.experiments[key]

    def each_phase(
        self,
        workload: str,
        counts: tuple[int, ...],
        servers: list[Server],
        measure: Callable[[Server, int], Result],
    ) -> dict[str, dict[str, Result]]:
        """Run `measure` `sizes.repeats` times for every client count and server (workload-major,
        each repetition going through every server before the next), and keep the median
        repetition of each by the workload's primary measure (bench/repetitions.py). A failed
        phase is recorded with its error and the benchmark goes on."""
        repeats = max(1, self.sizes.repeats)
        out: dict[str, dict[str, Result]] = {s.name: {} for s in servers}
        for clients in counts:
            measured: dict[str, list[Result]] = {s.name: [] for s in servers}
            for repetition in range(repeats):
                for server in servers:
                    label = f"{server.name} x{clients}"
                    if repeats > 1:
                        label += f" ({repetition + 1}/{repeats})"
                    print(f"  {label} ...", flush=True)
                    try:
                        result = measure(server, clients)
                    except Exception as err:
                        error = f"{type(err).__name__}: {err}"[:2000]
                        result = {"clients": clients, "error": error}
                        print(f"  {label} FAILED: {result['error'][:300]}", flush=True)
                    else:
                        print(f"  {label}: {_headline(result)}", flush=True)
                    measured[server.name].append(result)
            for server in servers:
                out[server.name][str(clients)] = representative(
                    measured[server.name], PRIMARY_MEASURE[workload]
                )
        return out

    def wait_queryable(self, server: Server, runs: list[Result]) -> float:
        """Poll until the last point of every run and key is visible through the mlflow API;
        the moment it is (time.monotonic())."""
        client = MlflowClient(server.url)
        deadline = time.monotonic() + self.sizes.queryable_timeout
        pending = [r for r in runs if r["last_step"] >= 0]
        while pending:
            still = []
            for run in pending:
                metrics = client.get_run(run["run_id"]).data.metrics
                if any(metrics.get(k) != float(run["last_step"]) for k in run["keys"]):
                    still.append(run)
            pending = still
            if not pending:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(pending)} run(s) not queryable after {self.sizes.queryable_timeout}s"
                )
            time.sleep(0.02)
        return time.monotonic()

    @staticmethod
    def verify_counts(server: Server, runs: list[Result]) -> dict[str, Any]:
        """Untimed: every point of every run and key reads back through get_metric_history."""
        client = MlflowClient(server.url)
        found = expected = 0
        for run in runs:
            for key in run["keys"]:
                expected += run["steps"]
                found += len(client.get_metric_history(run["run_id"], key))
        return {"expected_points": expected, "found_points": found, "ok": found == expected}

    def warm_up(self) -> None:
        """Every kind of request from several client processes against every server, untimed."""
        clients = min(self.pool.size, 8)
        for server in self.servers:
            started = time.monotonic()
            args = {
                "url": server.url,
                "experiment_id": self.experiment(server, "warm-up"),
                "rounds": 3,
            }
            self.pool.run(tasks.warm_up, [args] * clients)
            print(f"  warmed up {server.name} in {time.monotonic() - started:.1f}s", flush=True)

    # ---- 1. log_batch ingest

    def log_batch(self) -> dict[str, dict[str, Result]]:
        s = self.sizes

        def measure(server: Server, clients: int) -> Result:
            experiment = self.experiment(server, "ingest")
            args = {
                "url": server.url,
                "experiment_id": experiment,
                "keys": s.metric_keys,
                "batch_points": s.batch_points,
                "max_batches": s.ingest_max_batches,
                "seconds": s.ingest_seconds,
            }
            with sampling(server.pids()) as rss:
                phase = self.pool.run(tasks.log_batch, [args] * clients)
                queryable = self.wait_queryable(server, phase.results)
            points = sum(r["points"] for r in phase.results)
            last_client = max(r["end"] for r in phase.results)
            return {
                **_phase_facts(phase, clients),
                "points": points,
                "points_per_s": rate(points, queryable - phase.go),
                "queryable_after_s": round(queryable - last_client, 3),
                **latency_summary([x for r in phase.results for x in r["latencies"]]),
                "errors": _errors(phase.results),
                **_resources(rss, phase),
                "verified": self.verify_counts(server, phase.results),
            }

        return self.each_phase("log_batch", s.ingest_clients, self.servers, measure)

    # ---- 2. single log_metric

    def log_metric(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._log_metric(
            "log_metric", tasks.log_metric, s.log_metric_clients, s.log_metric_seconds
        )

    def log_metric_http(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._log_metric(
            "log_metric_http", tasks.log_metric_http, s.http_clients, s.http_seconds
        )

    def _log_metric(
        self, workload: str, task: Task, counts: tuple[int, ...], seconds: float
    ) -> dict[str, dict[str, Result]]:
        s = self.sizes

        def measure(server: Server, clients: int) -> Result:
            args = {
                "url": server.url,
                "experiment_id": self.experiment(server, "log-metric"),
                "max_calls": s.log_metric_max_calls,
                "seconds": seconds,
            }
            with sampling(server.pids()) as rss:
                phase = self.pool.run(task, [args] * clients)
            calls = sum(len(r["latencies"]) for r in phase.results)
            return {
                **_phase_facts(phase, clients),
                "calls": calls,
                "calls_per_s": rate(calls, max(r["end"] for r in phase.results) - phase.go),
                **latency_summary([x for r in phase.results for x in r["latencies"]]),
                "errors": _errors(phase.results),
                **_resources(rss, phase),
            }

        return self.each_phase(workload, counts, self.servers, measure)

    # ---- 3. get_metric_history

    def prepare_history(self, server: Server) -> str:
        """One run with a `history_points`-point metric, logged in batches of 1000."""
        prepared = self.prepared.setdefault(server.store, {})
        if "history_run" not in prepared:
            client = MlflowClient(server.url)
            run_id = client.create_run(self.experiment(server, "history")).info.run_id
            now = int(time.time() * 1000)
            for start in range(0, self.sizes.history_points, 1000):
                steps = range(start, min(start + 1000, self.sizes.history_points))
                client.log_batch(
                    run_id, metrics=[Metric(HISTORY_KEY, float(i), now, i) for i in steps]
                )
            self.wait_queryable(
                server,
                [
                    {
                        "run_id": run_id,
                        "keys": [HISTORY_KEY],
                        "last_step": self.sizes.history_points - 1,
                    }
                ],
            )
            prepared["history_run"] = run_id
        return str(prepared["history_run"])

    def get_metric_history(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._get_metric_history(
            "get_metric_history", tasks.get_metric_history, s.history_clients, s.history_seconds
        )

    def get_metric_history_http(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._get_metric_history(
            "get_metric_history_http", tasks.get_metric_history_http, s.http_clients, s.http_seconds
        )

    def _get_metric_history(
        self, workload: str, task: Task, counts: tuple[int, ...], seconds: float
    ) -> dict[str, dict[str, Result]]:
        s = self.sizes
        for server in self.servers:
            self.prepare_history(server)

        def measure(server: Server, clients: int) -> Result:
            args = {
                "url": server.url,
                "run_id": self.prepare_history(server),
                "key": HISTORY_KEY,
                "expected": s.history_points,
                "max_requests": s.history_max_requests,
                "seconds": seconds,
            }
            with sampling(server.pids()) as rss:
                phase = self.pool.run(task, [args] * clients)
            latencies = [x for r in phase.results for x in r["latencies"]]
            return {
                **_phase_facts(phase, clients),
                "points": s.history_points,
                **latency_summary(latencies),
                "errors": _errors(phase.results),
                **_resources(rss, phase),
            }

        return self.each_phase(workload, counts, self.servers, measure)

    # ---- 4. search_runs

    def prepare_search(self, server: Server) -> str:
        """An experiment of `search_runs` runs, each with a metric and a param, created by every
        client process of the pool at once."""
        prepared = self.prepared.setdefault(server.store, {})
        if "search_experiment" not in prepared:
            experiment = self.experiment(server, "search")
            workers = self.pool.size
            indexes = list(range(self.sizes.search_runs))
            args = [
                {"url": server.url, "experiment_id": experiment, "indexes": indexes[w::workers]}
                for w in range(workers)
            ]
            started = time.monotonic()
            self.pool.run(tasks.create_search_runs, args)
            print(
                f"  prepared {len(indexes)} runs on {server.store} in "
                f"{time.monotonic() - started:.1f}s",
                flush=True,
            )
            prepared["search_experiment"] = experiment
        return str(prepared["search_experiment"])

    def search_runs(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._search_runs(
            "search_runs", tasks.search_runs, s.search_clients, s.search_seconds
        )

    def search_runs_http(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._search_runs(
            "search_runs_http", tasks.search_runs_http, s.http_clients, s.http_seconds
        )

    def _search_runs(
        self, workload: str, task: Task, counts: tuple[int, ...], seconds: float
    ) -> dict[str, dict[str, Result]]:
        s = self.sizes
        for server in self.servers:
            self.prepare_search(server)
        expected = search_expected(s.search_runs)

        def measure(server: Server, clients: int) -> Result:
            args = {
                "url": server.url,
                "experiment_id": self.prepare_search(server),
                "filter": SEARCH_FILTER,
                "order_by": SEARCH_ORDER,
                "expected": expected,
                "max_requests": s.search_max_requests,
                "seconds": seconds,
            }
            with sampling(server.pids()) as rss:
                phase = self.pool.run(task, [args] * clients)
            return {
                **_phase_facts(phase, clients),
                "runs": s.search_runs,
                "matching": expected,
                **latency_summary([x for r in phase.results for x in r["latencies"]]),
                "errors": _errors(phase.results),
                **_resources(rss, phase),
            }

        return self.each_phase(workload, counts, self.servers, measure)

    # ---- 5. registry writes

    def registry_writes(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._registry_writes(
            "registry_writes", tasks.registry_writes, s.registry_clients, s.registry_seconds
        )

    def registry_writes_http(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        return self._registry_writes(
            "registry_writes_http", tasks.registry_writes_http, s.http_clients, s.http_seconds
        )

    def _registry_writes(
        self, workload: str, task: Task, counts: tuple[int, ...], seconds: float
    ) -> dict[str, dict[str, Result]]:
        s = self.sizes

        def measure(server: Server, clients: int) -> Result:
            args = {
                "url": server.url,
                "experiment_id": self.experiment(server, "registry"),
                "max_rounds": s.registry_max_rounds,
                "seconds": seconds,
            }
            with sampling(server.pids()) as rss:
                phase = self.pool.run(task, [args] * clients)
            by_op: dict[str, list[float]] = {}
            for r in phase.results:
                for op, values in r["latencies"].items():
                    by_op.setdefault(op, []).extend(values)
            every = [x for values in by_op.values() for x in values]
            return {
                **_phase_facts(phase, clients),
                "ops": len(every),
                "ops_per_s": rate(len(every), max(r["end"] for r in phase.results) - phase.go),
                **latency_summary(every),
                "by_op": {op: latency_summary(values) for op, values in by_op.items()},
                "errors": _errors(phase.results),
                **_resources(rss, phase),
            }

        return self.each_phase(workload, counts, self.servers, measure)

    # ---- native SDK ingest (ledgerflow with the Kafka log only)

    def sdk_ingest(self) -> dict[str, dict[str, Result]]:
        s = self.sizes
        servers = [x for x in self.servers if x.name == "ledgerflow-cluster"]

        def measure(server: Server, producers: int) -> Result:
            args = {
                "url": server.url,
                "experiment_id": self.experiment(server, "sdk"),
                "keys": s.metric_keys,
                "points": s.sdk_points // producers,
                "seconds": s.sdk_seconds,
            }
            with sampling(server.pids()) as rss:
                phase = self.pool.run(tasks.sdk_ingest, [args] * producers)
                queryable = self.wait_queryable(server, phase.results)
            points = sum(r["points"] for r in phase.results)
            first = min(r["first"] for r in phase.results)
            flushed = max(r["flushed"] for r in phase.results)
            return {
                **_phase_facts(phase, producers),
                "points": points,
                "points_per_s": rate(points, queryable - first),
                "published_per_s": rate(points, flushed - first),
                "queryable_after_s": round(queryable - flushed, 3),
                **_resources(rss, phase),
                "verified": self.verify_counts(server, phase.results),
            }

        return self.each_phase("sdk_ingest", s.sdk_producers, servers, measure)


def _headline(result: Result) -> str:
    shown = []
    for key in ("points_per_s", "calls_per_s", "ops_per_s", "p50_ms", "p99_ms"):
        if result.get(key) is not None:
            shown.append(f"{key}={result[key]}")
    if result.get("errors"):
        shown.append(f"errors={len(result['errors'])}")
    with contextlib.suppress(KeyError):
        if not result["verified"]["ok"]:
            shown.append(f"verified={result['verified']}")
    return " ".join(shown)


WORKLOADS = ("log_batch", "log_metric", "get_metric_history", "search_runs", "registry_writes")
