"""Repeated phases: each server and client count is measured several times, interleaved with the
other servers, and one repetition stands for all of them in the tables, the median one.

The repetition shown is whole (its CPU, latencies and counts belong together), chosen by the
workload's primary measure; every repetition stays in the JSON under ``repetitions`` so that the
spread of each ratio can be shown beside it.
"""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]

# The measure that picks the median repetition of each workload's phases.
PRIMARY_MEASURE = {
    "log_batch": "points_per_s",
    "log_metric": "p50_ms",
    "get_metric_history": "p50_ms",
    "search_runs": "p50_ms",
    "registry_writes": "ops_per_s",
    "sdk_ingest": "points_per_s",
    "log_metric_http": "p50_ms",
    "get_metric_history_http": "p50_ms",
    "search_runs_http": "p50_ms",
    "registry_writes_http": "ops_per_s",
}


def higher_is_better(key: str) -> bool:
    """Throughputs (``*_per_s``) are better higher; latencies lower."""
    return key.endswith("_per_s")


def representative(repetitions: list[Result], key: str) -> Result:
    """The repetition with the median ``key`` among those that measured it (with an even
    count, the worse of the two middle ones), with all of them under ``repetitions`` and its
    own index under ``repetition``. A single repetition comes back as it is. When none measured
    ``key`` (every one failed), the first stands for them."""
    if not repetitions:
        raise ValueError("no repetitions")
    if len(repetitions) == 1:
        return repetitions[0]
    measured = [
        (index, float(result[key]))
        for index, result in enumerate(repetitions)
        if "error" not in result and result.get(key) is not None
    ]
    chosen = 0
    if measured:
        best_first = sorted(measured, key=lambda pair: pair[1], reverse=higher_is_better(key))
        chosen = best_first[len(best_first) // 2][0]
    return {**repetitions[chosen], "repetition": chosen, "repetitions": repetitions}


def each_repetition(result: Result) -> list[Result]:
    """Every repetition behind a phase's result (itself alone when it was measured once)."""
    repetitions = result.get("repetitions")
    return list(repetitions) if repetitions else [result]
