"""Micro-benchmark: log-batch bodies of 1000 metrics read and checked per second on one core.

Run: `.venv/bin/python -m services.gateway.bench_requests [seconds]`. Each iteration is what a
log-batch request costs the gateway before the write: `read_log_batch` on a Starlette request
(content type, orjson, metrics checked a column at a time, MLflow's other checks, the
metrics.logged event). For comparison, the element-wise path that malformed batches take:
`read_request` (proto-JSON typing per metric), `validate_log_batch`, the event.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request

from services.gateway.mlflow.messages import LOG_BATCH
from services.gateway.mlflow.runs import _metrics_event, read_log_batch
from services.gateway.requests import read_request
from services.gateway.validation import validate_log_batch


def log_batch_body(metrics: int = 1000) -> bytes:
    """A body like the MLflow client's: floats, int64 timestamps and steps, a few keys."""
    now = 1_700_000_000_000
    return orjson.dumps(
        {
            "run_id": "0f3c9a1e2b7d4c5f8a6e9d1c2b3a4f5e",
            "metrics": [
                {
                    "key": f"train/loss_{i % 8}",
                    "value": 1.0 / (i + 1),
                    "timestamp": now + i,
                    "step": i,
                }
                for i in range(metrics)
            ],
            "params": [],
            "tags": [],
        }
    )


def _request(body: bytes) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/2.0/mlflow/runs/log-batch",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


async def _element_wise(request: Request) -> Any:
    batch = await read_request(request, LOG_BATCH)
    metrics, _, _ = validate_log_batch(
        batch["run_id"],
        batch.get("metrics", []),
        batch.get("params", []),
        batch.get("tags", []),
    )
    return _metrics_event(batch["run_id"], metrics)


READERS: dict[str, Callable[[Request], Awaitable[Any]]] = {
    "read_log_batch (columns)": read_log_batch,
    "element-wise": _element_wise,
}


async def _run(
    read: Callable[[Request], Awaitable[Any]], body: bytes, seconds: float
) -> tuple[int, float]:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            await read(_request(body))
        done += 20
    return done, time.perf_counter() - start


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    body = log_batch_body()
    for name, read in READERS.items():
        asyncio.run(_run(read, body, 0.3))  # warm up (name-check cache, allocator)
        done, elapsed = asyncio.run(_run(read, body, seconds))
        rate = done / elapsed
        print(
            f"log-batch, 1000 metrics, {len(body):,} bytes, {name}: {rate:,.0f} bodies/s "
            f"({1000 * elapsed / done:.2f} ms each, {rate * 1000:,.0f} metrics/s)"
        )


if __name__ == "__main__":
    main()
