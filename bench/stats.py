"""Summaries of what the client processes measured: percentiles, rates."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None without samples."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p99/mean in milliseconds and the sample count."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    mean = sum(latencies_s) / len(latencies_s) if latencies_s else None
    return {
        "p50_ms": ms(percentile(latencies_s, 50)),
        "p99_ms": ms(percentile(latencies_s, 99)),
        "mean_ms": ms(mean),
        "samples": len(latencies_s),
    }


def rate(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0
