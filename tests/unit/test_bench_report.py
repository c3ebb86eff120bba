"""The README's performance table: written from a benchmark's results between two markers."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report
from bench.targets import PRIMARY, build_rows, client_ceiling

ROOT = Path(__file__).resolve().parents[2]


def _results() -> dict:  # type: ignore[type-arg]
    results = json.loads((ROOT / "docs" / "benchmarks" / "results.json").read_text())
    assert isinstance(results, dict)
    return results


def test_the_summary_has_one_line_per_target_row() -> None:
    results = _results()
    rows = build_rows(results, results["servers"])
    table = report.summary(results, rows).splitlines()
    body = [line for line in table if line.startswith("| ") and "---" not in line][1:]
    judged = [row for row in rows if row.target]
    assert judged and len(body) == len(judged)
    first = judged[0]
    assert report._ratio(first.ratios.get(PRIMARY)) in body[0]
    assert report._number(first.values.get(PRIMARY), first.unit) in body[0]


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
