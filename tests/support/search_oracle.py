"""A plain-Python evaluator of run and experiment searches: the test oracle for services.search.

It shares only the parser with the SQL compiler and evaluates the parsed clauses over plain
dicts, straight from MLflow's documented semantics:

* a clause on a missing metric, param, tag or NULL attribute never holds (``!=`` included),
  except ``IS NULL``; a NaN metric satisfies ``!=`` only;
* LIKE is PostgreSQL's (``%``, ``_``, backslash escapes; a lone trailing backslash is literal),
  case-sensitive; ILIKE ignores case; ``=`` is case-sensitive;
* a dataset clause holds when some dataset input of the run satisfies it;
* ordering puts missing values last in both directions and NaN metrics after real values;
  runs are then ordered by start_time DESC (unless ordered by it) and run_id ASC; strings
  compare by code point (byte order).

Runs are dicts: run_id, experiment_id, run_name, user_id, status, start_time, end_time,
artifact_uri, lifecycle_stage, params {k: v}, tags {k: v}, metrics {k: latest value},
datasets [{name, digest, context}]. Experiments are dicts: experiment_id, name,
lifecycle_stage, creation_time, last_update_time, tags {k: v}.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from services.search.experiments import EXPERIMENT_SPEC
from services.search.grammar import Comparison, OrderKey, parse_filter, parse_order_by
from services.search.runs import RUN_SPEC

Record = dict[str, Any]

_STAGES = {
    "ACTIVE_ONLY": {"active"},
    "DELETED_ONLY": {"deleted"},
    "ALL": {"active", "deleted"},
}


def like_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(re.escape(pattern[i + 1] if i + 1 < len(pattern) else "\\"))
            i += 2
            continue
        out.append({"%": ".*", "_": "."}.get(ch) or re.escape(ch))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(out), flags)


def _holds(op: str, lhs: Any, rhs: Any) -> bool:
    """``lhs op rhs`` for a present (non-missing) left-hand side."""
    if op == "=":
        return bool(lhs == rhs)
    if op == "!=":
        return bool(lhs != rhs)
    if op == "<":
        return bool(lhs < rhs)
    if op == "<=":
        return bool(lhs <= rhs)
    if op == ">":
        return bool(lhs > rhs)
    if op == ">=":
        return bool(lhs >= rhs)
    if op == "LIKE":
        return like_regex(rhs).fullmatch(lhs) is not None
    if op == "ILIKE":
        return like_regex(rhs, ignore_case=True).fullmatch(lhs) is not None
    if op == "IN":
        return lhs in rhs
    if op == "NOT IN":
        return lhs not in rhs
    raise AssertionError(op)


def _keyed(values: dict[str, Any], clause: Comparison) -> bool:
    present = clause.key in values
    if clause.op == "IS NULL":
        return not present
    if clause.op == "IS NOT NULL":
        return present
    return present and _holds(clause.op, values[clause.key], clause.value)


def run_matches(run: Record, clause: Comparison) -> bool:
    if clause.entity == "metric":
        value = run["metrics"].get(clause.key)
        if value is None:
            return False
        if math.isnan(value):
            return clause.op == "!="
        return _holds(clause.op, value, clause.value)
    if clause.entity == "param":
        return _keyed(run["params"], clause)
    if clause.entity == "tag":
        return _keyed(run["tags"], clause)
    if clause.entity == "dataset":
        return any(
            ds[clause.key] is not None and _holds(clause.op, ds[clause.key], clause.value)
            for ds in run["datasets"]
        )
    value = run[clause.key]
    return value is not None and _holds(clause.op, value, clause.value)


def _compare(a: Any, b: Any, ascending: bool) -> int:
    """Order two values of one sort key: missing (None) last, NaN after numbers."""
    rank_a = 2 if a is None else 1 if isinstance(a, float) and math.isnan(a) else 0
    rank_b = 2 if b is None else 1 if isinstance(b, float) and math.isnan(b) else 0
    if rank_a != rank_b:
        return -1 if rank_a < rank_b else 1
    if rank_a or a == b:
        return 0
    smaller = -1 if a < b else 1
    return smaller if ascending else -smaller


def _sorted(
    records: list[Record], keys: Sequence[tuple[Callable[[Record], Any], bool]]
) -> list[Record]:
    def cmp(x: Record, y: Record) -> int:
        for get, ascending in keys:
            outcome = _compare(get(x), get(y), ascending)
            if outcome:
                return outcome
        return 0

    return sorted(records, key=functools.cmp_to_key(cmp))


def _run_value(entity: str, key: str) -> Callable[[Record], Any]:
    if entity == "metric":
        return lambda run: run["metrics"].get(key)
    if entity == "param":
        return lambda run: run["params"].get(key)
    if entity == "tag":
        return lambda run: run["tags"].get(key)
    return lambda run: run[key]


def search_runs(
    runs: Sequence[Record],
    experiment_ids: Sequence[int],
    filter_string: str = "",
    order_by: Sequence[str] = (),
    view_type: str = "ACTIVE_ONLY",
) -> list[str]:
    """The run_ids a complete search returns, in order."""
    clauses = parse_filter(filter_string, RUN_SPEC)
    order: tuple[OrderKey, ...] = parse_order_by(list(order_by), RUN_SPEC)
    chosen = [
        run
        for run in runs
        if run["experiment_id"] in set(experiment_ids)
        and run["lifecycle_stage"] in _STAGES[view_type]
        and all(run_matches(run, clause) for clause in clauses)
    ]
    keys = [(_run_value(o.entity, o.key), o.ascending) for o in order]
    named = {(o.entity, o.key) for o in order}
    if ("attribute", "start_time") not in named:
        keys.append((_run_value("attribute", "start_time"), False))
    keys.append((_run_value("attribute", "run_id"), True))
    return [run["run_id"] for run in _sorted(chosen, keys)]


def experiment_matches(experiment: Record, clause: Comparison) -> bool:
    if clause.entity == "tag":
        return _keyed(experiment["tags"], clause)
    value: Any = clause.value
    if clause.key == "experiment_id":
        value = tuple(int(v) for v in value) if isinstance(value, tuple) else int(str(value))
    return _holds(clause.op, experiment[clause.key], value)


def _attribute(key: str) -> Callable[[Record], Any]:
    return lambda record: record[key]


def search_experiments(
    experiments: Sequence[Record],
    filter_string: str = "",
    order_by: Sequence[str] = (),
    view_type: str = "ACTIVE_ONLY",
) -> list[int]:
    """The experiment_ids a complete search returns, in order."""
    clauses = parse_filter(filter_string, EXPERIMENT_SPEC)
    order = parse_order_by(
        list(order_by) or ["creation_time DESC", "experiment_id ASC"], EXPERIMENT_SPEC
    )
    chosen = [
        experiment
        for experiment in experiments
        if experiment["lifecycle_stage"] in _STAGES[view_type]
        and all(experiment_matches(experiment, clause) for clause in clauses)
    ]
    keys = [(_attribute(o.key), o.ascending) for o in order]
    if not any(o.key == "experiment_id" for o in order):
        keys.append((lambda e: e["experiment_id"], False))
    return [e["experiment_id"] for e in _sorted(chosen, keys)]
