"""SearchExperiments: MLflow's experiment filter and order_by compiled to a keyset-paged query."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from services.search.errors import SearchError
from services.search.grammar import (
    MLFLOW_NAME,
    ComparatorRule,
    Comparison,
    OrderKey,
    SearchSpec,
    parse_filter,
    parse_order_by,
    render_set,
)
from services.search.paging import (
    CompiledSearch,
    SortKey,
    after_sql,
    check_max_results,
    decode_token,
    fingerprint,
    order_by_sql,
    select_sql,
)
from services.search.sqltext import Params, int_comparison, text_comparison

ViewType = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]

_STRING_OPS = frozenset({"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_ATTRIBUTES = frozenset({"name", "experiment_id", "creation_time", "last_update_time"})

EXPERIMENT_SPEC = SearchSpec(
    kind="experiments",
    # MLflow takes exactly these prefixes here (no "attr", "run" or "tags"-like synonyms).
    prefixes={"attribute": "attribute", "tag": "tag", "tags": "tag"},
    invalid_entity=lambda prefix: (
        f"Invalid entity type '{prefix}'. Valid entity types are ('attribute', 'tag', 'tags')"
    ),
    filter_attributes=_ATTRIBUTES,
    order_attributes=_ATTRIBUTES,
    numeric_attributes=frozenset({"creation_time", "last_update_time"}),
    list_attributes=frozenset({"experiment_id"}),
    comparators={
        "attribute:experiment_id": ComparatorRule(
            frozenset({"=", "!=", "IN", "NOT IN"}),
            lambda op: f"Invalid comparator for experiment_id: {op}",
        ),
        "string_attribute": ComparatorRule(
            frozenset({"=", "!=", "LIKE", "ILIKE"}),
            lambda op: f"Invalid comparator '{op}' not one of '{render_set(_STRING_OPS)}'",
        ),
        # MLflow lists the string comparators when refusing one on a numeric attribute.
        "numeric_attribute": ComparatorRule(
            _NUMERIC_OPS,
            lambda op: f"Invalid comparator '{op}' not one of '{render_set(_STRING_OPS)}",
        ),
        "tag": ComparatorRule(
            frozenset({"=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}),
            lambda op: f"Invalid comparator for tag: {op}",
        ),
    },
    null_check_entities=frozenset({"tag"}),
    null_check_refusal=lambda entity, key: (
        f"IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'"
    ),
    order_entities=frozenset({"attribute"}),
    order_entity_refusal=lambda entity: f"Invalid order_by entity: {MLFLOW_NAME[entity]}",
    quote_invalid_clauses=False,
    reject_duplicate_order_keys=False,
)

_STAGES: dict[str, str] = {
    "ACTIVE_ONLY": "e.lifecycle_stage = 'active'",
    "DELETED_ONLY": "e.lifecycle_stage = 'deleted'",
    "ALL": "e.lifecycle_stage IN ('active', 'deleted')",
}
_DEFAULT_ORDER = ["creation_time DESC", "experiment_id ASC"]
_EXPERIMENT_ID = re.compile(r"\s*[-+]?\d+\s*")


@dataclass(frozen=True)
class ExperimentSearch:
    filter: str = ""
    order_by: list[str] = field(default_factory=list)
    view_type: ViewType = "ACTIVE_ONLY"
    max_results: int = 1000
    page_token: str | None = None


def parse_experiment_id(value: str | int) -> int:
    """An experiment ID as MLflow's SQL store reads one: an integer, or text holding one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not _EXPERIMENT_ID.fullmatch(value):
        raise SearchError(
            f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
        )
    return int(value)


def _condition(clause: Comparison, params: Params) -> str:
    op, value = clause.op, clause.value
    if clause.entity == "tag":
        present = (
            "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id "
            f"AND t.key = {params.add(clause.key, 'text')}"
        )
        if op == "IS NULL":
            return f"NOT {present})"
        if op == "IS NOT NULL":
            return f"{present})"
        return f"{present} AND {text_comparison('t.value', op, value, params)})"
    if clause.key == "experiment_id":
        if isinstance(value, tuple):
            ids = [parse_experiment_id(v) for v in value]
            in_range = [i for i in ids if -(2**63) <= i < 2**63]
            listed = params.add(in_range, "bigint[]")
            if op == "IN":
                return f"e.experiment_id = ANY({listed})"
            return f"e.experiment_id <> ALL({listed})"
        assert isinstance(value, str)
        return int_comparison("e.experiment_id", op, parse_experiment_id(value), params)
    if clause.key == "name":
        return text_comparison("e.name", op, value, params)
    if isinstance(value, float):
        raise SearchError(f"Invalid value for numeric attribute '{clause.key}': {str(value)!r}")
    return int_comparison(f"e.{clause.key}", op, value, params)


def _sort_keys(order: tuple[OrderKey, ...]) -> list[SortKey]:
    keys = []
    for item in order:
        if item.key == "name":
            keys.append(SortKey('e.name COLLATE "C"', not item.ascending, False, "text"))
        else:
            keys.append(SortKey(f"e.{item.key}", not item.ascending, False, "int"))
    if not any(item.key == "experiment_id" for item in order):
        # MLflow's tie-breaker when the caller's order lacks one: experiment_id descending.
        keys.append(SortKey("e.experiment_id", True, False, "int"))
    return keys


def compile_experiment_search(search: ExperimentSearch) -> CompiledSearch:
    """Validate a SearchExperiments request and compile one page of it; raises SearchError."""
    check_max_results(
        search.max_results,
        f"Invalid value {search.max_results} for parameter 'max_results' supplied. "
        "It must be at most 50000",
    )
    clauses = parse_filter(search.filter, EXPERIMENT_SPEC)
    order = parse_order_by(search.order_by or _DEFAULT_ORDER, EXPERIMENT_SPEC)
    query_fingerprint = fingerprint(
        "experiments",
        {
            "filter": search.filter or "",
            "order_by": list(search.order_by or ()),
            "view_type": search.view_type,
        },
    )
    if search.view_type not in _STAGES:
        raise SearchError(f"Invalid view_type '{search.view_type}'")
    params = Params()
    keys = _sort_keys(order)
    where = [_STAGES[search.view_type]]
    where += [_condition(clause, params) for clause in clauses]
    if search.page_token:
        last = decode_token(search.page_token, query_fingerprint, keys)
        where.append(after_sql(keys, last, params))
    limit = params.add(search.max_results + 1, "bigint")
    sql = (
        f"SELECT e.experiment_id, {select_sql(keys)}\n"
        "FROM experiments e\n"
        "WHERE " + "\n  AND ".join(where) + f"\nORDER BY {order_by_sql(keys)}\nLIMIT {limit}"
    )
    return CompiledSearch(sql, params.values, search.max_results, tuple(keys), query_fingerprint)
