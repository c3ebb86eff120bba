"""Micro-benchmark of the codec on 1000-point metrics batches: `python -m schemas.bench_codec`."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import orjson

from schemas.codec import canonical, decode, encode
from schemas.envelope import Actor, new_event
from schemas.events.runs import MetricPoint, MetricsLogged


def sample_batch(points: int) -> MetricsLogged:
    """A realistic batch: a few keys, growing steps, the odd NaN."""
    return MetricsLogged.of(
        "0123456789abcdef0123456789abcdef",
        [
            MetricPoint(
                key=f"train/metric_{i % 8}",
                value=math.nan if i % 97 == 0 else i * 0.001 + 0.5,
                timestamp=1_717_000_000_000 + i,
                step=i // 8,
            )
            for i in range(points)
        ],
    )


def rate(fn: Callable[[], object], points: int, seconds: float) -> float:
    """Best-of-five points per second of `fn`, each round lasting about `seconds / 5`."""
    fn()
    best = 0.0
    for _ in range(5):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 5:
            fn()
            calls += 1
        best = max(best, calls * points / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1000, help="points per event (max 1000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    args = parser.parse_args()

    envelope = new_event(
        sample_batch(args.points), actor=Actor(name="bench", kind="system"), source="test"
    )
    wire = encode(envelope)
    print(f"{args.points}-point metrics.logged event: {len(wire)} bytes")
    cases: list[tuple[str, Callable[[], object]]] = [
        ("encode", lambda: encode(envelope)),
        ("canonical", lambda: canonical(envelope)),
        ("decode", lambda: decode(wire)),
        ("orjson.loads alone (floor)", lambda: orjson.loads(wire)),
    ]
    for name, fn in cases:
        print(f"{name:28s} {rate(fn, args.points, args.seconds):>12,.0f} points/s")


if __name__ == "__main__":
    main()
