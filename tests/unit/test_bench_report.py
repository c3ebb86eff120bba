"""The README's performance table: written from a benchmark's results between two markers."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report
from bench.repetitions import each_repetition, representative
from bench.targets import HTTP_WORKLOADS, PRIMARY, build_rows, client_ceiling

ROOT = Path(__file__).resolve().parents[2]


def _results() -> dict:  # type: ignore[type-arg]
    results = json.loads((ROOT / "docs" / "benchmarks" / "results.json").read_text())
    assert isinstance(results, dict)
    return results


def test_the_summary_has_one_line_per_target_row_then_the_plain_http_rows() -> None:
    results = _results()
    rows = build_rows(results, results["servers"])
    table = report.summary(results, rows).splitlines()
    body = [line for line in table if line.startswith("| ") and "---" not in line][1:]
    judged = [row for row in rows if row.target]
    plain = [row for row in rows if row.workload in HTTP_WORKLOADS]
    assert judged and plain and len(body) == len(judged) + len(plain)
    for row, line in zip([judged[0], plain[0]], [body[0], body[len(judged)]], strict=True):
        assert report._ratio(row.ratios.get(PRIMARY)) in line
        assert report._number(row.values.get(PRIMARY), row.unit) in line
    assert body[len(judged)].startswith("| log_metric, plain HTTP | 1 |")
    assert report.HTTP_TEXT in report.summary(results, rows)


def test_update_readme_replaces_only_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# x\n\n## Performance\n\n{report.README_START}\nold table\n{report.README_END}\n\nafter\n"
    )
    assert report.update_readme(readme, "| new |")
    text = readme.read_text()
    assert "old table" not in text and "| new |" in text
    assert text.startswith("# x\n") and text.endswith("\nafter\n")
    assert report.update_readme(readme, "| newer |") and "| new |\n" not in readme.read_text()

    bare = tmp_path / "BARE.md"
    bare.write_text("no markers\n")
    assert not report.update_readme(bare, "| new |")
    assert bare.read_text() == "no markers\n"


def test_the_readme_carries_the_markers() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.index(report.README_START) < text.index(report.README_END)


def test_the_ceiling_is_what_the_clients_cpu_leaves_a_server_that_costs_nothing() -> None:
    # 16 clients on 2 cores spent 10 CPU-s on 500,000 points: 50,000 points per CPU-second,
    # at most two clients running at once, so 100,000 points/s at best: 10x a 10,000 reference.
    batch = {"cpu_s": {"clients": 10.0}, "points": 500_000, "samples": 500}
    assert client_ceiling(batch, "points_per_s", 16, 2, 10_000.0) == 10.0
    # one client can use one core only, however many the machine has
    assert client_ceiling(batch, "points_per_s", 1, 2, 10_000.0) == 5.0
    # latency: 20 ms of client CPU per request; 4 clients on 2 cores wait for each other (40 ms)
    calls = {"cpu_s": {"clients": 2.0}, "calls": 100, "samples": 100}
    assert client_ceiling(calls, "p50_ms", 1, 2, 60.0) == 3.0
    assert client_ceiling(calls, "p50_ms", 4, 2, 60.0) == 1.5
    # nothing to go on: no client CPU, no count, no reference
    assert client_ceiling({"samples": 100}, "p50_ms", 1, 2, 60.0) is None
    assert client_ceiling({"cpu_s": {"clients": 2.0}}, "calls_per_s", 1, 2, 60.0) is None
    assert client_ceiling(calls, "p50_ms", 1, 2, None) is None


def test_rows_with_a_ratio_target_carry_their_ceiling_into_both_tables() -> None:
    results = _results()
    rows = build_rows(results, results["servers"])
    ceilinged = [row for row in rows if row.ceiling is not None]
    assert ceilinged and all(row.target for row in ceilinged)
    assert not any(row.ceiling for row in rows if row.workload in ("sdk_ingest", "memory"))
    summary = report.summary(results, rows)
    assert "| Ceiling |" in summary and report.CEILING_TEXT in summary
    first = ceilinged[0]
    line = next(
        text
        for text in summary.splitlines()
        if text.startswith(f"| {report._title(first)} | {first.clients} |")
    )
    assert f"| {report._ratio(first.ceiling)} |" in line
    assert "| Ceiling |" in report.markdown(results, rows)


def test_the_median_repetition_stands_for_the_phase() -> None:
    runs = [{"points_per_s": 30.0}, {"points_per_s": 10.0}, {"points_per_s": 20.0}]
    chosen = representative(runs, "points_per_s")
    assert chosen["points_per_s"] == 20.0 and chosen["repetition"] == 2
    assert chosen["repetitions"] == runs and each_repetition(chosen) == runs
    # latency: lower is better, and of an even count the worse middle one is shown
    waits = [{"p50_ms": 5.0}, {"p50_ms": 9.0}, {"p50_ms": 7.0}, {"p50_ms": 1.0}]
    assert representative(waits, "p50_ms")["p50_ms"] == 7.0
    assert representative(runs[:2], "points_per_s")["points_per_s"] == 10.0
    # a failed repetition does not count; when all failed, the first stands for them
    failed = {"clients": 1, "error": "TimeoutError: boom"}
    assert representative([failed, *runs[:2]], "points_per_s")["points_per_s"] == 10.0
    assert representative([failed, failed], "points_per_s")["error"] == failed["error"]
    # measured once: as it was, without a list of one
    assert representative(runs[:1], "points_per_s") == runs[0] == each_repetition(runs[0])[0]


def _repeated_results() -> dict:  # type: ignore[type-arg]
    def phase(key: str, values: list[float], **more: object) -> dict:  # type: ignore[type-arg]
        runs = [{key: v, **more} for v in values]
        return representative(runs, key)

    rss = {"gateway": 80.0, "projector": 150.0}
    return {
        "started_at": "2026-11-27T21:00:00+00:00",
        "mode": "full",
        "versions": {"git_commit": "abc1234"},
        "machine": {"cores": 2, "load_average_start": 1.0, "load_average_end": 2.0},
        "settings": {"repeats": 3},
        "servers": {PRIMARY: {"reference": False}, "ref": {"reference": True}},
        "workloads": {
            "log_batch": {
                PRIMARY: {
                    "16": representative(
                        [
                            {"points_per_s": 50_000.0, "peak_rss_mb": rss},
                            {"points_per_s": 60_000.0, "peak_rss_mb": {"projector": 290.0}},
                            {"points_per_s": 40_000.0, "peak_rss_mb": rss},
                        ],
                        "points_per_s",
                    )
                },
                "ref": {
                    "1": phase("points_per_s", [4_000.0, 9_000.0, 5_000.0]),
                    "16": phase("points_per_s", [5_000.0, 6_000.0, 8_000.0]),
                },
            },
            "sdk_ingest": {
                PRIMARY: {"1": phase("points_per_s", [500_000.0, 450_000.0, 480_000.0])}
            },
        },
    }


def test_each_repetition_is_compared_with_the_references_of_the_same_repetition() -> None:
    results = _repeated_results()
    rows = build_rows(results, results["servers"])
    batch = next(r for r in rows if r.workload == "log_batch" and r.target)
    # medians: ours 50,000 against the reference's 6,000 (at 16 clients)
    assert batch.ratios[PRIMARY] == round(50_000 / 6_000, 2)
    assert batch.per_repetition == [10.0, 10.0, 5.0]
    sdk = next(r for r in rows if r.workload == "sdk_ingest")
    # the best reference log_batch of each repetition, at any client count: 5,000, 9,000, 8,000
    assert sdk.per_repetition == [100.0, 50.0, 60.0]
    # memory: the peak of every repetition counts, not only the median's
    memory = {r.measure: r for r in rows if r.workload == "memory"}
    assert memory["peak RSS projector (ingest)"].values[PRIMARY] == 290.0
    table = report.summary(results, rows)
    assert "| 10.0x, 10.0x, 5.0x |" in table and "| Per repetition |" in table
    assert report.repetitions_text(results) in table


def test_the_plain_http_workloads_are_described_with_their_client_count() -> None:
    results = _results()
    rows = build_rows(results, results["servers"])
    text = report.markdown(results, rows)
    counts = results["settings"]["http_clients"]
    assert "**plain HTTP**" in text and report.HTTP_TEXT in text
    assert f"from {report._processes(counts)}, up to the same counts" in text
    assert report._processes((1,)) == "1 client process"
    assert report._processes([1, 4]) == "1 and 4 client processes"
