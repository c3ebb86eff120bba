"""The test oracle's own rules, pinned down: LIKE as PostgreSQL reads it, NaN, missing values."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.support.search_oracle import like_regex, search_experiments, search_runs


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("a%", "abc", True),
        ("a%", "Abc", False),
        ("a_c", "abc", True),
        ("a_c", "ac", False),
        ("%\\%%", "100% sure", True),
        ("%\\%%", "100 sure", False),
        ("a\\_b", "a_b", True),
        ("a\\_b", "axb", False),
        ("a\\", "a\\", True),
        ("a.c", "abc", False),
        ("", "", True),
        ("%", "line\nbreak", True),
    ],
)
def test_like(pattern: str, text: str, matches: bool) -> None:
    assert (like_regex(pattern).fullmatch(text) is not None) is matches


def test_ilike_ignores_case() -> None:
    assert like_regex("RES%", ignore_case=True).fullmatch("resnet")


def _run(run_id: str, start: int | None, **metrics: float) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "experiment_id": 1,
        "run_name": run_id,
        "user_id": "u",
        "status": "FINISHED",
        "start_time": start,
        "end_time": None,
        "artifact_uri": "a",
        "lifecycle_stage": "active",
        "params": {},
        "tags": {},
        "metrics": metrics,
        "datasets": [],
    }


RUNS = [
    _run("a", 1, acc=0.5),
    _run("b", 2, acc=math.nan),
    _run("c", 3),
    _run("d", 3, acc=math.inf),
    _run("e", None, acc=-math.inf),
]


def test_nan_only_satisfies_not_equal() -> None:
    assert search_runs(RUNS, [1], "metrics.acc != 0.5") == ["d", "b", "e"]
    assert search_runs(RUNS, [1], "metrics.acc > 0") == ["d", "a"]
    assert search_runs(RUNS, [1], "metrics.acc < 1e999") == ["a", "e"]


def test_missing_last_nan_after_numbers_in_both_directions() -> None:
    assert search_runs(RUNS, [1], order_by=["metrics.acc DESC"]) == ["d", "a", "e", "b", "c"]
    assert search_runs(RUNS, [1], order_by=["metrics.acc"]) == ["e", "a", "d", "b", "c"]
    # Default order: start_time DESC (NULL last), then run_id.
    assert search_runs(RUNS, [1]) == ["c", "d", "b", "a", "e"]


def test_experiment_default_and_tie_breaker() -> None:
    experiments = [
        {
            "experiment_id": i,
            "name": n,
            "lifecycle_stage": "active",
            "creation_time": t,
            "last_update_time": t,
            "tags": {},
        }
        for i, n, t in [(1, "b", 5), (2, "a", 5), (3, "a", 7)]
    ]
    assert search_experiments(experiments) == [3, 1, 2]
    assert search_experiments(experiments, order_by=["name"]) == [3, 2, 1]
