"""The SQL compilers without a database: parameters only, limits, page tokens."""

from __future__ import annotations

import base64
import math
import re

import pytest

from services.search import (
    ExperimentSearch,
    RunSearch,
    SearchError,
    compile_experiment_search,
    compile_run_search,
)
from services.search.paging import SortKey, after_sql, decode_token, encode_token
from services.search.sqltext import Params, int_comparison, like_pattern

MARK = "zq9"  # a value that must reach the database as a parameter, never as SQL text


def test_caller_values_are_parameters_only() -> None:
    compiled = compile_run_search(
        RunSearch(
            [7],
            f"metrics.{MARK}m > 0.5 AND params.{MARK}p = '{MARK}1' AND tags.`{MARK}t` LIKE "
            f"'{MARK}2%' AND run_id IN ('{MARK}3') AND status != '{MARK}4' AND datasets.context "
            f"= '{MARK}5' AND datasets.name ILIKE '{MARK}6' AND start_time > 123456789",
            [f"params.{MARK}o DESC", f"metrics.{MARK}n"],
        )
    )
    assert MARK not in compiled.sql and "123456789" not in compiled.sql
    flat = [v for a in compiled.args for v in (a if isinstance(a, list) else [a])]
    assert {f"{MARK}m", f"{MARK}p", f"{MARK}1", f"{MARK}t", f"{MARK}2%", f"{MARK}3"} <= set(flat)
    used = {int(n) for n in re.findall(r"\$(\d+)::", compiled.sql)}
    assert used == set(range(1, len(compiled.args) + 1))


def test_limit_fetches_one_extra_row() -> None:
    compiled = compile_run_search(RunSearch([1], max_results=7))
    assert compiled.sql.rstrip().endswith(f"LIMIT ${len(compiled.args)}::bigint")
    assert compiled.args[-1] == 8
    rows = [{"sk0": 1, "sk1": "a"}] * 8
    page, token = compiled.page(rows)
    assert len(page) == 7 and token
    assert compiled.page(rows[:7]) == (rows[:7], None)


def test_default_order_is_the_index_order() -> None:
    compiled = compile_run_search(RunSearch([1]))
    assert 'ORDER BY r.start_time DESC NULLS LAST, r.run_id COLLATE "C"' in compiled.sql
    assert "r.experiment_id = $1::bigint" in compiled.sql
    several = compile_run_search(RunSearch([1, 2]))
    assert "r.experiment_id = ANY($1::bigint[])" in several.sql


def test_tie_breakers() -> None:
    by_start = compile_run_search(RunSearch([1], order_by=["created ASC"]))
    assert 'ORDER BY r.start_time, r.run_id COLLATE "C"' in by_start.sql
    by_run = compile_run_search(RunSearch([1], order_by=["run_id DESC"]))
    assert by_run.sql.split("ORDER BY ")[1].startswith('r.run_id COLLATE "C" DESC\n')


@pytest.mark.parametrize(
    ("view", "condition"),
    [
        ("ACTIVE_ONLY", "r.lifecycle_stage = 'active'"),
        ("DELETED_ONLY", "r.lifecycle_stage = 'deleted'"),
        ("ALL", "r.lifecycle_stage IN ('active', 'deleted')"),
    ],
)
def test_view_types(view: str, condition: str) -> None:
    assert condition in compile_run_search(RunSearch([1], view_type=view)).sql  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "message"),
    [
        (0, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
        (
            -5,
            "Invalid value -5 for parameter 'max_results' supplied. It must be a positive integer",
        ),
        (
            50001,
            "Invalid value 50001 for parameter 'max_results' supplied:  Hint: Value was of type "
            "'int'. See the API docs for more information about request parameters.",
        ),
    ],
)
def test_run_max_results(n: int, message: str) -> None:
    with pytest.raises(SearchError) as caught:
        compile_run_search(RunSearch([1], max_results=n))
    assert caught.value.message == message


def test_experiment_max_results() -> None:
    compile_experiment_search(ExperimentSearch(max_results=50000))
    with pytest.raises(SearchError) as caught:
        compile_experiment_search(ExperimentSearch(max_results=50001))
    assert caught.value.message == (
        "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"
    )
    with pytest.raises(SearchError, match="It must be a positive integer"):
        compile_experiment_search(ExperimentSearch(max_results=0))


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("!!!", "Invalid page token, could not base64-decode"),
        ("abc", "Invalid page token, could not base64-decode"),
        ("é", "Invalid page token, could not base64-decode"),
        (base64.b64encode(b"not json").decode(), "Invalid page token, decoded value=b'not json'"),
        (base64.b64encode(b'{"offset": 5}').decode(), "Invalid page token, parsed value="),
        (base64.b64encode(b"[1]").decode(), "Invalid page token, parsed value=[1]"),
    ],
)
def test_malformed_tokens(token: str, message: str) -> None:
    with pytest.raises(SearchError) as caught:
        compile_run_search(RunSearch([1], page_token=token))
    assert caught.value.message.startswith(message)


def test_tokens_round_trip_infinities_and_refuse_wrong_types() -> None:
    keys = (
        SortKey("a", True, True, "float"),
        SortKey("b", False, False, "bool"),
        SortKey("c", True, True, "int"),
        SortKey("d", False, False, "text"),
    )
    row = {"sk0": -math.inf, "sk1": True, "sk2": None, "sk3": "r-1"}
    token = encode_token("fp", keys, row)
    assert decode_token(token, "fp", keys) == [-math.inf, True, None, "r-1"]
    with pytest.raises(SearchError, match="different search"):
        decode_token(token, "other", keys)
    swapped = (keys[1], keys[0], keys[2], keys[3])
    with pytest.raises(SearchError, match="parsed value"):
        decode_token(token, "fp", swapped)
    with pytest.raises(SearchError, match="parsed value"):
        decode_token(encode_token("fp", keys, {**row, "sk0": math.nan}), "fp", keys)


def test_after_predicate_puts_nulls_last() -> None:
    keys = [SortKey("x", True, True, "int"), SortKey("id", False, False, "text")]
    params = Params()
    assert after_sql(keys, [5, "r"], params) == (
        "((x < $2::bigint OR x IS NULL) OR (x = $2::bigint AND id > $1::text))"
    )
    assert params.values == ["r", 5]
    # After a NULL only more NULLs can follow.
    assert after_sql(keys, [None, "r"], Params()) == "(x IS NULL AND id > $1::text)"
    # A leading NOT NULL key also gets a plain range an index can use.
    plain = [SortKey("t", True, False, "int"), SortKey("id", False, False, "text")]
    assert after_sql(plain, [5, "r"], Params()) == (
        "t <= $3::bigint AND (t < $2::bigint OR (t = $2::bigint AND id > $1::text))"
    )


@pytest.mark.parametrize(
    ("op", "value", "sql", "args"),
    [
        (">", 5, "c > $1::bigint", [5]),
        (">", 1.5, "c >= $1::bigint", [2]),
        (">=", 1.5, "c >= $1::bigint", [2]),
        ("<", 1.5, "c <= $1::bigint", [1]),
        ("<=", -1.5, "c <= $1::bigint", [-2]),
        ("=", 1.5, "false", []),
        ("!=", 1.5, "c IS NOT NULL", []),
        ("=", 2.0, "c = $1::bigint", [2]),
        ("<", math.inf, "c IS NOT NULL", []),
        (">", math.inf, "false", []),
        (">=", -math.inf, "c IS NOT NULL", []),
        ("<", 2**70, "c IS NOT NULL", []),
        (">", -(2**70), "c IS NOT NULL", []),
        ("=", 2**70, "false", []),
    ],
)
def test_integer_comparisons_are_exact(op: str, value: float, sql: str, args: list[int]) -> None:
    params = Params()
    assert int_comparison("c", op, value, params) == sql
    assert params.values == args


def test_like_patterns() -> None:
    assert like_pattern("a%") == "a%"
    assert like_pattern("a\\") == "a\\\\"
    assert like_pattern("a\\\\") == "a\\\\"


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        (
            "experiment_id = 'x'",
            "Invalid experiment ID 'x'. Experiment ID must be a valid integer.",
        ),
        (
            "experiment_id IN ('1', 'y')",
            "Invalid experiment ID 'y'. Experiment ID must be a valid integer.",
        ),
        ("creation_time > 5.5", "Invalid value for numeric attribute 'creation_time': '5.5'"),
    ],
)
def test_experiment_value_refusals(filter_: str, message: str) -> None:
    with pytest.raises(SearchError) as caught:
        compile_experiment_search(ExperimentSearch(filter_))
    assert caught.value.message == message


def test_experiment_orders() -> None:
    default = compile_experiment_search(ExperimentSearch())
    assert "ORDER BY e.creation_time DESC, e.experiment_id\n" in default.sql
    by_name = compile_experiment_search(ExperimentSearch(order_by=["name"]))
    # MLflow's tie-breaker for a caller's order is experiment_id descending.
    assert 'ORDER BY e.name COLLATE "C", e.experiment_id DESC\n' in by_name.sql
