"""Client processes (multiprocessing spawn) that drive a workload together.

A pool of worker processes is started once (each imports the mlflow client up front) and reused
for every workload and server. A task runs in two phases so that start-up never counts: the task
function does its set-up (a run, its data) and calls `ready()`, which blocks until every worker
of the phase is ready and the parent says go; what follows is the measured part. Each task is
bounded by a count and a deadline that the task function itself respects.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any

# Client-side retries would hide the reference's failures under load (SQLite "database is
# locked") as slow requests; count them as errors instead. mlflow's telemetry thread sets and
# unsets an environment variable while requests reads the environment for proxies, which can
# fail a request with a KeyError; it has no network to reach here anyway.
CLIENT_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "300",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}

Task = Callable[[dict[str, Any], Callable[[], None]], dict[str, Any]]


def _worker(index: int, tasks: Any, results: Any) -> None:
    os.environ.update(CLIENT_ENV)
    import gc
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    import mlflow  # noqa: F401  (import cost paid once, before any measurement)

    # The registry client logs "Waiting up to 300 seconds..." at INFO for every version.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # What the import made lives as long as the process: out of the collector's way, so that a
    # full collection does not walk it. Without this every client ran one at the same call
    # (they run the same code from the same state), 0.7-1.3 s each on this 2-core machine, and
    # that pause, not any server, was the 16-client log_batch p99.
    gc.freeze()

    results.put(("started", index, None))
    while True:
        message = tasks.get()
        if message is None:
            return
        function, args = message

        def ready() -> None:
            results.put(("ready", index, None))
            go = tasks.get()
            assert go == "go", go

        try:
            results.put(("done", index, function(args, ready)))
        except BaseException:
            results.put(("error", index, traceback.format_exc()))


class TaskFailed(RuntimeError):
    """A client process raised; the message holds its traceback."""


@dataclass
class Phase:
    results: list[dict[str, Any]]
    go: float
    """time.monotonic() when the workers were told to start (CLOCK_MONOTONIC, one per machine)."""
    end: float
    """time.monotonic() when the last worker answered."""


class ClientPool:
    def __init__(self, size: int, start_timeout: float = 300.0) -> None:
        context = multiprocessing.get_context("spawn")
        os.environ.update(CLIENT_ENV)
        self._results = context.Queue()
        self._tasks = [context.Queue() for _ in range(size)]
        self._workers: list[SpawnProcess] = [
            context.Process(target=_worker, args=(i, self._tasks[i], self._results), daemon=True)
            for i in range(size)
        ]
        for worker in self._workers:
            worker.start()
        for _ in range(size):
            self._expect("started", start_timeout)

    @property
    def size(self) -> int:
        return len(self._workers)

    def _next(self, timeout: float) -> tuple[str, int, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer from the client processes in {timeout:.0f}s")
            try:
                kind, index, value = self._results.get(timeout=min(remaining, 1.0))
                return kind, index, value
            except queue.Empty:
                if any(not w.is_alive() for w in self._workers):
                    raise TaskFailed("a client process died") from None

    def _expect(self, kind: str, timeout: float) -> None:
        got, index, value = self._next(timeout)
        if got != kind:
            raise TaskFailed(f"client {index}: expected {kind!r}, got {got!r}: {value}")

    def run(self, function: Task, args: list[dict[str, Any]], timeout: float = 900.0) -> Phase:
        """Run `function(args[i], ready)` in workers 0..len(args)-1 at once; their results.

        If a worker fails, the others still finish (so the pool stays usable) and the first
        failure is raised."""
        if len(args) > self.size:
            raise ValueError(f"{len(args)} clients asked, the pool has {self.size}")
        for i, arg in enumerate(args):
            self._tasks[i].put((function, arg))
        ready: set[int] = set()
        failures: dict[int, str] = {}
        while len(ready) + len(failures) < len(args):
            kind, index, value = self._next(timeout)
            if kind == "ready":
                ready.add(index)
            else:
                failures[index] = str(value)
        go = time.monotonic()
        for i in ready:
            self._tasks[i].put("go")
        results: list[dict[str, Any]] = [{} for _ in args]
        waiting = set(ready)
        while waiting:
            kind, index, value = self._next(timeout)
            waiting.discard(index)
            if kind == "done":
                results[index] = value
            else:
                failures[index] = str(value)
        if failures:
            index = min(failures)
            raise TaskFailed(f"client {index} failed:\n{failures[index]}")
        return Phase(results=results, go=go, end=time.monotonic())

    def close(self) -> None:
        for tasks in self._tasks:
            tasks.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=5)

    def __enter__(self) -> ClientPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
