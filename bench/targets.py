"""The issue's targets (#7) and the comparison rows: each measure of each workload and client
count, the value on every server, the ratio of ledgerflow to the best reference, and whether the
target is met.

A ratio is always "times better than the reference": throughput divided by the reference's, or
the reference's latency divided by ledgerflow's. The reference is the best of every reference
server measured (SQLite and PostgreSQL, with mlflow's default workers and with `--workers 1`
where those ran), the strictest comparison.

A row with a target also gets a *ceiling*: the ratio that a server costing nothing would reach
through the same mlflow client on this machine, from the CPU the client processes spent in
ledgerflow's phase. N client processes share the machine's cores, so a server that answered
instantly would still see at most ``min(N, cores)`` ÷ (client CPU per unit) units per second,
and requests no faster, on average, than client CPU per request times ``max(1, N / cores)``.
A target above its ceiling cannot be met by any server through this client here; one below it
is not excluded by the client, and what stands between is the server's own path.

Each phase ran ``repeats`` times (bench/repetitions.py). A row's values and ratio are those of
the median repetitions; a row with a target also lists ledgerflow's ratio in every repetition
against the best reference of the same repetition, which ran next to it in time (the SDK's
against the best reference log_batch of the same repetition, which ran before it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from typing import Any

from bench.repetitions import each_repetition

PRIMARY = "ledgerflow-cluster"
SDK_POINTS_PER_S = 200_000
SDK_RATIO = 40.0
RSS_LIMIT_MB = 300.0


@dataclass
class Row:
    workload: str
    clients: int
    measure: str
    unit: str
    higher_is_better: bool
    values: dict[str, float | None]
    reference: str | None = None
    ratios: dict[str, float | None] = field(default_factory=dict)
    target: str = ""
    met: bool | None = None
    ceiling: float | None = None
    per_repetition: list[float | None] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# (workload, result key, shown measure, unit, higher is better)
MEASURES = [
    ("log_batch", "points_per_s", "points/s", "points/s", True),
    ("log_batch", "p50_ms", "latency p50", "ms", False),
    ("log_batch", "p99_ms", "latency p99", "ms", False),
    ("log_metric", "calls_per_s", "calls/s", "calls/s", True),
    ("log_metric", "p50_ms", "latency p50", "ms", False),
    ("log_metric", "p99_ms", "latency p99", "ms", False),
    ("get_metric_history", "p50_ms", "latency p50", "ms", False),
    ("get_metric_history", "p99_ms", "latency p99", "ms", False),
    ("search_runs", "p50_ms", "latency p50", "ms", False),
    ("search_runs", "p99_ms", "latency p99", "ms", False),
    ("registry_writes", "ops_per_s", "ops/s", "ops/s", True),
    ("registry_writes", "p50_ms", "latency p50", "ms", False),
    ("log_metric_http", "p50_ms", "latency p50", "ms", False),
    ("get_metric_history_http", "p50_ms", "latency p50", "ms", False),
    ("search_runs_http", "p50_ms", "latency p50", "ms", False),
    ("registry_writes_http", "ops_per_s", "ops/s", "ops/s", True),
]

# The same requests over plain HTTP, without the mlflow client (bench/tasks.py), in the order
# they run: no target, but their ratios are the servers' own, so they get a ratio per
# repetition as the targeted rows do.
HTTP_WORKLOADS = (
    "log_metric_http",
    "get_metric_history_http",
    "search_runs_http",
    "registry_writes_http",
)

# a throughput's result key -> the count it divides by the phase's seconds
UNITS = {"points_per_s": "points", "calls_per_s": "calls", "ops_per_s": "ops"}

# (workload, result key) -> (minimum ratio, text); log_batch's is at its largest client count.
RATIO_TARGETS = {
    ("log_batch", "points_per_s"): (10.0, ">= 10x at 16 clients"),
    ("log_metric", "p50_ms"): (4.0, "p50 <= 1/4 of reference"),
    ("get_metric_history", "p50_ms"): (20.0, ">= 20x"),
    ("search_runs", "p50_ms"): (10.0, ">= 10x"),
    ("registry_writes", "ops_per_s"): (10.0, ">= 10x"),
}


def _ratio(value: float | None, reference: float | None, higher_is_better: bool) -> float | None:
    if value is None or reference is None or value <= 0 or reference <= 0:
        return None
    return round(value / reference if higher_is_better else reference / value, 2)


def _best(values: dict[str, float | None], higher_is_better: bool) -> str | None:
    present = {name: v for name, v in values.items() if v is not None and v > 0}
    if not present:
        return None
    pick = max if higher_is_better else min
    return pick(present, key=lambda name: present[name])


def build_rows(results: dict[str, Any], servers: dict[str, dict[str, Any]]) -> list[Row]:
    workloads = results["workloads"]
    cores = int(results["machine"]["cores"])
    references = [name for name, s in servers.items() if s["reference"]]
    ours = [name for name, s in servers.items() if not s["reference"]]
    rows: list[Row] = []
    for workload, key, measure, unit, higher in MEASURES:
        by_server = workloads.get(workload, {})
        counts = sorted({int(c) for per in by_server.values() for c in per})
        for clients in counts:
            values = {
                name: by_server.get(name, {}).get(str(clients), {}).get(key)
                for name in ours + references
            }
            reference = _best({r: values[r] for r in references}, higher)
            row = Row(workload, clients, measure, unit, higher, values, reference)
            ref_value = values[reference] if reference else None
            row.ratios = {name: _ratio(values[name], ref_value, higher) for name in ours}
            _judge(row, key, clients == counts[-1])
            if row.target:
                phase = by_server.get(PRIMARY, {}).get(str(clients), {})
                row.ceiling = client_ceiling(phase, key, clients, cores, ref_value)
            if row.target or workload in HTTP_WORKLOADS:
                row.per_repetition = per_repetition(
                    _repeated(by_server, PRIMARY, clients, key),
                    {r: _repeated(by_server, r, clients, key) for r in references},
                    higher,
                )
            rows.append(row)
    rows.extend(_latency_target_rows(workloads, references, ours))
    rows.extend(_sdk_rows(workloads, references))
    rows.extend(_memory_rows(workloads))
    return rows


def _repeated(by_server: dict[str, Any], name: str, clients: int, key: str) -> list[float | None]:
    """``key`` in every repetition of one server's phase (None where a repetition failed)."""
    result = by_server.get(name, {}).get(str(clients))
    if not result:
        return []
    return [None if "error" in r else r.get(key) for r in each_repetition(result)]


def per_repetition(
    ours: list[float | None], references: dict[str, list[float | None]], higher_is_better: bool
) -> list[float | None]:
    """Our ratio in each repetition against the best reference of the same repetition; empty
    when the phase ran once (the row's ratio says it all)."""
    if len(ours) < 2:
        return []
    ratios = []
    for index, value in enumerate(ours):
        present = {name: v[index] for name, v in references.items() if index < len(v)}
        best = _best(present, higher_is_better)
        ratios.append(_ratio(value, present[best] if best else None, higher_is_better))
    return ratios


def client_ceiling(
    phase: dict[str, Any], key: str, clients: int, cores: int, reference: float | None
) -> float | None:
    """The ratio to ``reference`` that a server costing nothing would reach with the clients'
    CPU as measured in ``phase`` (see the module docstring); None when the phase lacks it."""
    cpu = (phase.get("cpu_s") or {}).get("clients")
    if not cpu or not reference or reference <= 0:
        return None
    if key in UNITS:
        units = phase.get(UNITS[key])
        if not units:
            return None
        return round(min(clients, cores) * units / cpu / reference, 1)
    samples = phase.get("samples")
    if not samples:
        return None
    floor_ms = 1000 * cpu / samples * max(1.0, clients / cores)
    return round(reference / floor_ms, 1)


def _judge(row: Row, key: str, largest_count: bool) -> None:
    target = RATIO_TARGETS.get((row.workload, key))
    if target is None:
        return
    if row.workload == "log_batch" and not largest_count:
        return
    minimum, text = target
    if row.workload == "log_batch" and row.clients != 16:
        text = f">= 10x (target is at 16 clients; largest run here: {row.clients})"
    row.target = text
    ratio = row.ratios.get(PRIMARY)
    row.met = None if ratio is None else ratio >= minimum


def _latency_target_rows(
    workloads: dict[str, Any], references: list[str], ours: list[str]
) -> list[Row]:
    """log_batch at the largest client count: ledgerflow's p99 against the reference's p50."""
    by_server = workloads.get("log_batch", {})
    counts = sorted({int(c) for per in by_server.values() for c in per})
    if not counts:
        return []
    clients = counts[-1]

    def get(name: str, key: str) -> float | None:
        value = by_server.get(name, {}).get(str(clients), {}).get(key)
        return float(value) if value is not None else None

    values = {name: get(name, "p99_ms") for name in ours}
    values.update({name: get(name, "p50_ms") for name in references})
    reference = _best({r: values[r] for r in references}, False)
    row = Row("log_batch", clients, "our p99 vs reference p50", "ms", False, values, reference)
    ref_value = values[reference] if reference else None
    row.ratios = {name: _ratio(values[name], ref_value, False) for name in ours}
    row.target = "p99 < reference p50"
    row.per_repetition = per_repetition(
        _repeated(by_server, PRIMARY, clients, "p99_ms"),
        {r: _repeated(by_server, r, clients, "p50_ms") for r in references},
        False,
    )
    ratio = row.ratios.get(PRIMARY)
    row.met = None if ratio is None else ratio > 1.0
    return [row]


def _sdk_rows(workloads: dict[str, Any], references: list[str]) -> list[Row]:
    sdk = workloads.get("sdk_ingest", {}).get(PRIMARY, {})
    ingest = workloads.get("log_batch", {})
    best_name, best_value = None, 0.0
    for name in references:
        for result in ingest.get(name, {}).values():
            if (result.get("points_per_s") or 0) > best_value:
                best_name, best_value = name, float(result["points_per_s"])
    # the best reference log_batch of each repetition, at any client count
    repeated = {
        name: [
            max((v for v in column if v is not None), default=None)
            for column in zip_longest(
                *(_repeated(ingest, name, int(c), "points_per_s") for c in ingest.get(name, {}))
            )
        ]
        for name in references
    }
    rows = []
    for clients, result in sorted(sdk.items(), key=lambda item: int(item[0])):
        value = result.get("points_per_s")
        values: dict[str, float | None] = {PRIMARY: value}
        if best_name:
            values[best_name] = best_value
        ratio = _ratio(value, best_value or None, True)
        row = Row(
            "sdk_ingest",
            int(clients),
            "end-to-end points/s",
            "points/s",
            True,
            values,
            best_name,
            {PRIMARY: ratio},
            f">= {SDK_POINTS_PER_S:,} points/s and >= {SDK_RATIO:.0f}x best reference log_batch",
        )
        row.met = (
            None
            if value is None or ratio is None
            else value >= SDK_POINTS_PER_S and ratio >= SDK_RATIO
        )
        row.per_repetition = per_repetition(
            _repeated(workloads["sdk_ingest"], PRIMARY, int(clients), "points_per_s"),
            repeated,
            True,
        )
        rows.append(row)
    return rows


def _memory_rows(workloads: dict[str, Any]) -> list[Row]:
    """Peak RSS of ledgerflow's processes over every ingest phase (log_batch and the SDK), in
    every repetition."""
    peaks: dict[str, float] = {}
    for workload in ("log_batch", "sdk_ingest"):
        for result in workloads.get(workload, {}).get(PRIMARY, {}).values():
            for repetition in each_repetition(result):
                for role, mb in (repetition.get("peak_rss_mb") or {}).items():
                    if role not in ("gateway", "projector"):
                        continue  # PostgreSQL and Kafka are shared infrastructure
                    peaks[role] = max(peaks.get(role, 0.0), float(mb))
    rows = []
    for role, peak in sorted(peaks.items()):
        rows.append(
            Row(
                "memory",
                0,
                f"peak RSS {role} (ingest)",
                "MB",
                False,
                {PRIMARY: peak},
                target=f"< {RSS_LIMIT_MB:.0f} MB",
                met=peak < RSS_LIMIT_MB,
            )
        )
    return rows
