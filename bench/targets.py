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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
]

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
            rows.append(row)
    rows.extend(_latency_target_rows(workloads, references, ours))
    rows.extend(_sdk_rows(workloads, references))
    rows.extend(_memory_rows(workloads))
    return rows


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
        rows.append(row)
    return rows


def _memory_rows(workloads: dict[str, Any]) -> list[Row]:
    """Peak RSS of ledgerflow's processes over every ingest phase (log_batch and the SDK)."""
    peaks: dict[str, float] = {}
    for workload in ("log_batch", "sdk_ingest"):
        for result in workloads.get(workload, {}).get(PRIMARY, {}).values():
            for role, mb in (result.get("peak_rss_mb") or {}).items():
                if role not in ("gateway", "projector"):
                    continue  # PostgreSQL and Kafka are shared infrastructure, not ledgerflow
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
