"""The benchmark's outputs: results.json (raw numbers and machine facts), results.md (a table of
absolute figures and ratios with the issue's targets) and chart.png (the ratios, log scale)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.repetitions import each_repetition
from bench.targets import HTTP_WORKLOADS, PRIMARY, Row

WORKLOAD_TITLES = {
    "log_batch": "log_batch (1,000 points)",
    "log_metric": "log_metric",
    "get_metric_history": "get_metric_history",
    "search_runs": "search_runs",
    "registry_writes": "registry writes",
    "sdk_ingest": "native SDK ingest",
    "memory": "memory",
    "log_metric_http": "log_metric, plain HTTP",
    "get_metric_history_http": "get_metric_history, plain HTTP",
    "search_runs_http": "search_runs, plain HTTP",
    "registry_writes_http": "registry writes, plain HTTP",
}


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}x" if value < 100 else f"{value:,.0f}x"


CEILING_TEXT = (
    "*Ceiling* (rows with a target): the ratio a server that cost nothing would reach through "
    "the same mlflow client on this machine, from the CPU the client processes spent per "
    "request in ledgerflow's phase: N clients share the cores, so at most min(N, cores) ÷ "
    "(client CPU per unit) per second, and no request faster on average than its client CPU "
    "x max(1, N ÷ cores). No server can meet a target above its ceiling through this client "
    "here."
)


HTTP_TEXT = (
    "Rows marked *plain HTTP* send the same requests without the mlflow client (the JSON it "
    "would send, through one `requests` session, the answer decoded as JSON and checked), so "
    "the client's own CPU per request is out of them and their ratio is the servers' own; "
    "they carry no target."
)


def _has_http_rows(rows: list[Row]) -> bool:
    return any(r.workload in HTTP_WORKLOADS for r in rows)


def _legend(results: dict[str, Any], rows: list[Row]) -> str:
    """What the Ceiling, plain-HTTP (when there are such rows) and Per repetition columns mean."""
    texts = [CEILING_TEXT, *([HTTP_TEXT] if _has_http_rows(rows) else [])]
    return " ".join([*texts, repetitions_text(results)])


def _ceiling(row: Row) -> str:
    return _ratio(row.ceiling) if row.ceiling else ""  # blank, not "-": most rows have none


def _per_repetition(row: Row) -> str:
    return ", ".join(_ratio(ratio) for ratio in row.per_repetition)


def repetitions_text(results: dict[str, Any]) -> str:
    """How the repetitions of each phase were run and which one the tables show."""
    repeats = int(results["settings"].get("repeats", 1))
    if repeats < 2:
        return "Each phase ran once."
    return (
        f"Each phase ran {repeats} times, the servers taking turns within each repetition. "
        "Every figure is from the repetition with the median of its workload's primary measure "
        "(points/s for log_batch and the SDK, ops/s for registry writes, latency p50 otherwise; "
        "the worse middle one of an even count). *Per repetition* gives ledgerflow's ratio in "
        "each repetition, in the order they ran, against the best reference of the same "
        "repetition (for the SDK, the best reference log_batch of the same repetition)."
    )


def _met(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: ""}[met]


def _title(row: Row) -> str:
    title = WORKLOAD_TITLES.get(row.workload, row.workload)
    return title


def markdown(results: dict[str, Any], rows: list[Row]) -> str:
    servers: dict[str, dict[str, Any]] = results["servers"]
    ours = [n for n, s in servers.items() if not s["reference"]]
    refs = [n for n, s in servers.items() if s["reference"]]
    machine = results["machine"]
    versions = results["versions"]
    lines = [
        "# ledgerflow vs `mlflow server`: benchmark results",
        "",
        f"Run `{results['command']}` on {results['started_at']} ({results['mode']} sizes, "
        f"{results['duration_s']:.0f} s). Machine: {machine['cores']} cores, "
        f"{machine['memory_gb']} GB, {machine['cpu']}; load average (1 min) "
        f"{machine['load_average_start']} at the start, {machine['load_average_end']} at the end. "
        f"mlflow {versions['mlflow']} (client and reference server), ledgerflow "
        f"{versions['ledgerflow']} (commit {versions.get('git_commit') or '-'}), "
        f"PostgreSQL {versions.get('postgres') or '-'}, Kafka "
        f"{versions.get('kafka') or '-'}, Python {versions['python']}.",
        "",
        "Every server runs on this machine, started by the benchmark, and every workload runs "
        "against each of them in the same run, through the real mlflow client in separate "
        "client processes (multiprocessing spawn). *Ratio* is ledgerflow cluster against the "
        "best reference server for that row (the fastest of all mlflow configurations measured), "
        "always as \"times better\": throughput ÷ the reference's, or the reference's latency ÷ "
        "ours. Targets are issue #7's. " + _legend(results, rows),
        "",
    ]
    header = [
        "Workload",
        "Clients",
        "Measure",
        *ours,
        *refs,
        "Ratio",
        "Ceiling",
        "Per repetition",
        "Target",
        "Met",
    ]
    if len(ours) > 1:
        header.insert(header.index("Ratio") + 1, f"Ratio ({ours[1]})")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 6) + ["---"] * 3) + "|")
    for row in rows:
        cells = [
            _title(row),
            str(row.clients) if row.clients else "",
            row.measure if row.measure.endswith(row.unit) else f"{row.measure} ({row.unit})",
            *(_number(row.values.get(n), row.unit) for n in ours + refs),
            _ratio(row.ratios.get(PRIMARY)),
        ]
        if len(ours) > 1:
            cells.append(_ratio(row.ratios.get(ours[1])))
        cells += [_ceiling(row), _per_repetition(row), row.target, _met(row.met)]
        lines.append("| " + " | ".join(cells) + " |")
    judged = [r for r in rows if r.met is not None]
    lines += [
        "",
        f"Targets met: {sum(1 for r in judged if r.met)} of {len(judged)}. Where the time goes "
        "(CPU per process below; hand-written notes on one run with client-side profiles: "
        "[profile-notes.md](profile-notes.md)).",
        "",
        "## Servers",
        "",
    ]
    for name, server in servers.items():
        config = ", ".join(f"{k}: {v}" for k, v in server["config"].items())
        lines.append(f"- **{name}** — {config}")
    sizes = results["settings"]
    lines += [
        "",
        "## Workloads",
        "",
        f"- **log_batch**: each client process creates its own run and logs batches of "
        f"{sizes['batch_points']:,} points ({sizes['metric_keys']} keys x "
        f"{sizes['batch_points'] // sizes['metric_keys']} steps), up to "
        f"{sizes['ingest_max_batches']} batches or {sizes['ingest_seconds']} s. points/s counts "
        "from the start signal until the last point of every run is visible through the mlflow "
        "API (get_run); every point is then read back with get_metric_history and counted "
        "(untimed; `verified` in the JSON).",
        f"- **log_metric**: one metric per call, up to {sizes['log_metric_max_calls']} calls or "
        f"{sizes['log_metric_seconds']} s per client.",
        f"- **get_metric_history**: one metric of {sizes['history_points']:,} points (logged "
        f"beforehand, untimed), up to {sizes['history_max_requests']} reads or "
        f"{sizes['history_seconds']} s per client.",
        f"- **search_runs**: an experiment of {sizes['search_runs']:,} runs, each with a metric "
        "and a param (created beforehand by all client processes, untimed); filter "
        "`metrics.score > 0.5 and params.group = 'a'`, order by `metrics.score DESC`, "
        f"max_results 1000; up to {sizes['search_max_requests']} searches or "
        f"{sizes['search_seconds']} s per client.",
        "- **registry writes**: each client process registers its own model, then repeats "
        "create_model_version, set_registered_model_alias, transition_model_version_stage "
        f"(3 ops) up to {sizes['registry_max_rounds']} times or {sizes['registry_seconds']} s.",
        *(
            [
                "- **plain HTTP** (log_metric, get_metric_history, search_runs, registry "
                "writes): the requests of those workloads without the mlflow client, from "
                f"{_processes(sizes['http_clients'])}, up to the same counts or "
                f"{sizes['http_seconds']} s; the history is read page by page as the client "
                "does (`max_results` 25000), and the registry rounds are its three writes only "
                "(the mlflow client also reads the model twice per round)."
            ]
            if _has_http_rows(rows)
            else []
        ),
        "- **native SDK ingest** (ledgerflow cluster only): `LedgerflowClient(url).start_run()`, "
        f"`run.log_metrics()` of {sizes['metric_keys']} keys per step, `run.flush()`; "
        f"{sizes['sdk_points']:,} points per phase split over the producers (or "
        f"{sizes['sdk_seconds']} s); timed from the first log call until the last point of "
        "every run is visible through the mlflow API. The ratio compares with the best "
        "reference log_batch points/s at any client count.",
        "- **memory**: peak RSS (process tree, sampled every 0.1 s by psutil) of the gateway and "
        "the projector during the ingest phases.",
        "",
        "Client-side retries are off (`MLFLOW_HTTP_REQUEST_MAX_RETRIES=0`), so a failed request "
        "counts as an error instead of a slow success. mlflow's telemetry is off in the clients "
        "and the reference servers (`MLFLOW_DISABLE_TELEMETRY`). Each client process calls "
        "`gc.freeze()` after importing mlflow, so Python's full collections do not walk the "
        "import's objects: the clients run the same code from the same state, so without it "
        "all 16 collected at the same call, 0.7-1.3 s each on 2 cores, and that pause was the "
        "16-client log_batch p99 whatever the server.",
    ]
    lines += ["", *_cpu_section(results)]
    problems = _problems(results)
    if problems:
        lines += ["", "## Errors and failed phases", "", *problems]
    lines += ["", "![ratios](chart.png)", ""]
    return "\n".join(lines)


def _processes(counts: Sequence[int]) -> str:
    """ "1 client process", "1 and 4 client processes"."""
    if not counts:
        return "no client process"
    listed = " and ".join(", ".join(str(c) for c in counts).rsplit(", ", 1))
    return f"{listed} client process" + ("" if list(counts) == [1] else "es")


CPU_ROLES = ("clients", "gateway", "server", "projector", "postgres", "kafka")


def _cpu_section(results: dict[str, Any]) -> list[str]:
    """CPU seconds per process tree in each phase, against the phase's wall time: the profile
    of where the time goes (the machine has `cores` x wall seconds to give)."""
    cores = results["machine"]["cores"]
    lines = [
        "## Where the CPU goes",
        "",
        f"CPU seconds used during each phase by each process tree (psutil, user + system), "
        f"against the phase's wall time; the machine has {cores} cores, so at most "
        f"{cores} x wall seconds to share, with other work on the machine too (load average "
        "per phase in the JSON). `server` is mlflow's uvicorn parent and workers; `postgres` is "
        "the shared PostgreSQL server (all its backends). Where a phase ran more than once, the "
        "row is its median repetition (the one in the table above); the JSON has every one.",
        "",
        "| Workload | Clients | Server | Wall s | " + " | ".join(CPU_ROLES) + " |",
        "|---|---:|---|---:|" + "---:|" * len(CPU_ROLES),
    ]
    for workload, per_server in results["workloads"].items():
        for server, per_count in per_server.items():
            for clients, result in sorted(per_count.items(), key=lambda kv: int(kv[0])):
                cpu = result.get("cpu_s")
                if not cpu:
                    continue
                cells = [f"{cpu[r]:.1f}" if r in cpu else "" for r in CPU_ROLES]
                lines.append(
                    f"| {WORKLOAD_TITLES.get(workload, workload)} | {clients} | {server} | "
                    f"{result.get('sampled_s', result['seconds']):.1f} | "
                    + " | ".join(cells)
                    + " |"
                )
    return lines


def _problems(results: dict[str, Any]) -> list[str]:
    lines = []
    for workload, per_server in results["workloads"].items():
        for server, per_count in per_server.items():
            for clients, phase in per_count.items():
                repetitions = each_repetition(phase)
                for index, result in enumerate(repetitions):
                    where = f"- {workload} / {server} / {clients} clients"
                    if len(repetitions) > 1:
                        where += f" / repetition {index + 1}"
                    if "error" in result:
                        lines.append(f"{where}: phase failed: {result['error'][:300]}")
                    errors = result.get("errors") or []
                    if errors:
                        lines.append(
                            f"{where}: {len(errors)} failed request(s), first: {errors[0][:200]}"
                        )
                    verified = result.get("verified")
                    if verified and not verified.get("ok"):
                        lines.append(
                            f"{where}: read back {verified['found_points']} of "
                            f"{verified['expected_points']} points"
                        )
    return lines


def write_chart(path: Path, rows: list[Row]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.ratios.get(PRIMARY) is not None]
    if not shown:
        shown = []
    labels = [
        f"{WORKLOAD_TITLES.get(r.workload, r.workload)} · {r.measure}"
        + (f" · {r.clients} cl." if r.clients else "")
        for r in shown
    ]
    ratios = [float(r.ratios[PRIMARY] or 0) for r in shown]
    colours = ["#2e7d32" if r.met else "#c62828" if r.met is False else "#78909c" for r in shown]
    height = max(3.0, 0.32 * len(shown) + 1.5)
    fig, ax = plt.subplots(figsize=(11, height))
    positions = list(range(len(shown)))[::-1]
    ax.barh(positions, ratios, color=colours)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    for position, row, ratio in zip(positions, shown, ratios, strict=True):
        minimum = _target_ratio(row)
        spread = [r for r in row.per_repetition if r]
        # the label goes past the marks, so that none sits on it
        after = max(ratio, row.ceiling or 0.0, minimum or 0.0, *spread)
        ax.text(after * 1.08, position, f"{ratio:,.1f}x", va="center", fontsize=8)
        if row.ceiling:
            ax.plot([row.ceiling], [position], marker="D", color="#616161", markersize=4)
        if spread:
            ax.plot(spread, [position] * len(spread), "|", color="#1565c0", markersize=6)
        if minimum:
            ax.plot(
                [minimum, minimum], [position - 0.4, position + 0.4], color="black", linewidth=2
            )
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("times better than the best mlflow server (log scale; black tick = target)")
    ax.set_title(
        "ledgerflow (cluster) vs mlflow server 3.17.2, same machine, same run\n"
        "green: target met, red: missed, grey: no target\n"
        "grey diamond: client-bound ceiling; short blue marks: each repetition's ratio",
        fontsize=10,
    )
    low = min([*ratios, 0.5]) * 0.7
    high = max([*ratios, *(r.ceiling or 0 for r in shown), 50.0]) * 2.5
    ax.set_xlim(low, high)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _target_ratio(row: Row) -> float | None:
    from bench.targets import RATIO_TARGETS, SDK_RATIO

    if row.workload == "sdk_ingest":
        return SDK_RATIO
    if row.measure == "our p99 vs reference p50":
        return 1.0
    if not row.target:
        return None
    for (workload, _key), (minimum, _text) in RATIO_TARGETS.items():
        if workload == row.workload:
            return minimum
    return None


README_START = "<!-- bench:start (written by `make bench`; do not edit by hand) -->"
README_END = "<!-- bench:end -->"


def summary(results: dict[str, Any], rows: list[Row]) -> str:
    """The rows that carry a target, then the plain-HTTP rows, as a short table for the
    README."""
    lines = [
        f"`make bench` of {results['started_at'][:10]} ({results['mode']} sizes; "
        f"{results['machine']['cores']} cores, load average "
        f"{results['machine']['load_average_start']} to {results['machine']['load_average_end']}; "
        f"commit {results['versions'].get('git_commit') or '-'}). Reference: the best of "
        f"{', '.join(n for n, s in results['servers'].items() if s['reference'])} in the same run.",
        "",
        "| Workload | Clients | Measure | ledgerflow | best reference | Ratio | Ceiling "
        "| Per repetition | Target | Met |",
        "|---|---:|---|---:|---:|---:|---:|---|---|---|",
    ]
    shown = [r for r in rows if r.target] + [r for r in rows if r.workload in HTTP_WORKLOADS]
    for row in shown:
        reference = row.values.get(row.reference) if row.reference else None
        lines.append(
            "| "
            + " | ".join(
                [
                    _title(row),
                    str(row.clients) if row.clients else "",
                    row.measure
                    if row.measure.endswith(row.unit)
                    else f"{row.measure} ({row.unit})",
                    _number(row.values.get(PRIMARY), row.unit),
                    _number(reference, row.unit),
                    _ratio(row.ratios.get(PRIMARY)),
                    _ceiling(row),
                    _per_repetition(row),
                    row.target,
                    _met(row.met),
                ]
            )
            + " |"
        )
    lines += ["", _legend(results, rows)]
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> bool:
    """Replace the text between the README's bench markers with ``table``; False if the
    markers are missing (nothing is written then)."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    readme.write_text(text[: start + len(README_START)] + "\n" + table + "\n" + text[end:])
    return True
