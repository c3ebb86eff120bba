"""The README's performance table: written from a benchmark's results between two markers."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report
from bench.targets import PRIMARY, build_rows

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
