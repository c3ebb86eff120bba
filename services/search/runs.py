"""SearchRuns: MLflow's run filter and order_by compiled to one keyset-paged PostgreSQL query.

The query reads the tracking read models (runs, latest_metrics through metric_keys,
run_params, run_tags, run_dataset_inputs with datasets) through the search path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from services.search.errors import SearchError
from services.search.experiments import parse_experiment_id
from services.search.grammar import (
    MLFLOW_NAME,
    ComparatorRule,
    Comparison,
    Entity,
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
from services.search.sqltext import Params, int_comparison, metric_comparison, text_comparison

ViewType = Literal["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]

_METRIC_OPS = frozenset({">", ">=", "!=", "=", "<", "<="})
_PARAM_OPS = frozenset({"!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"})
_STRING_ATTRIBUTE_OPS = frozenset({"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"})
_DATASET_OPS = _STRING_ATTRIBUTE_OPS


def _rule(
    allowed: frozenset[str], listed: frozenset[str], *, closing_quote: bool
) -> ComparatorRule:
    # MLflow's messages differ by a closing quote from entity to entity; keep each as it is.
    end = "'" if closing_quote else ""
    text = render_set(listed)
    return ComparatorRule(allowed, lambda op: f"Invalid comparator '{op}' not one of '{text}{end}")


_RUN_ATTRIBUTES = frozenset(
    {"run_id", "run_name", "user_id", "status", "start_time", "end_time", "artifact_uri"}
)

RUN_SPEC = SearchSpec(
    kind="runs",
    prefixes={
        "metric": "metric",
        "metrics": "metric",
        "parameter": "param",
        "parameters": "param",
        "param": "param",
        "params": "param",
        "tag": "tag",
        "tags": "tag",
        "attribute": "attribute",
        "attributes": "attribute",
        "attr": "attribute",
        "run": "attribute",
        "dataset": "dataset",
        "datasets": "dataset",
    },
    invalid_entity=lambda prefix: (
        f"Invalid entity type '{prefix}'. "
        "Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"
    ),
    filter_attributes=_RUN_ATTRIBUTES | {"created", "Created", "run name", "Run name", "Run Name"},
    order_attributes=_RUN_ATTRIBUTES | {"created", "Created"},
    numeric_attributes=frozenset({"start_time", "end_time", "created", "Created"}),
    list_attributes=frozenset({"run_id"}),
    attribute_aliases={
        "created": "start_time",
        "Created": "start_time",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
    },
    dataset_keys=frozenset({"name", "digest", "context"}),
    comparators={
        "metric": _rule(_METRIC_OPS, _METRIC_OPS, closing_quote=False),
        "param": _rule(_PARAM_OPS, _PARAM_OPS, closing_quote=True),
        "tag": _rule(_PARAM_OPS, _PARAM_OPS, closing_quote=False),
        "string_attribute": _rule(_STRING_ATTRIBUTE_OPS, _STRING_ATTRIBUTE_OPS, closing_quote=True),
        # MLflow lists the string comparators when refusing one on a numeric attribute.
        "numeric_attribute": _rule(_METRIC_OPS, _STRING_ATTRIBUTE_OPS, closing_quote=False),
        "dataset": _rule(_DATASET_OPS, _DATASET_OPS, closing_quote=False),
    },
    null_check_entities=frozenset({"param", "tag"}),
    null_check_refusal=lambda entity, key: (
        "IS NULL / IS NOT NULL is only supported for tags and params, "
        f"not for '{MLFLOW_NAME[entity]}' '{key}'"
    ),
    order_entities=frozenset({"metric", "param", "tag", "attribute"}),
    order_entity_refusal=lambda entity: f"Invalid identifier type '{MLFLOW_NAME[entity]}'",
)

_MAX_RESULTS_HINT = (
    "Invalid value {n} for parameter 'max_results' supplied:  Hint: Value was of type 'int'. "
    "See the API docs for more information about request parameters."
)
_STAGES: dict[str, str] = {
    "ACTIVE_ONLY": "r.lifecycle_stage = 'active'",
    "DELETED_ONLY": "r.lifecycle_stage = 'deleted'",
    "ALL": "r.lifecycle_stage IN ('active', 'deleted')",
}
# attribute -> (column, kind); start_time and end_time may be NULL, the others may not.
_COLUMNS: dict[str, tuple[str, Literal["int", "text"]]] = {
    "run_id": ("r.run_id", "text"),
    "run_name": ("r.name", "text"),
    "user_id": ("r.user_id", "text"),
    "status": ("r.status", "text"),
    "artifact_uri": ("r.artifact_uri", "text"),
    "start_time": ("r.start_time", "int"),
    "end_time": ("r.end_time", "int"),
}
_KEY_TABLES: dict[Entity, str] = {"param": "run_params", "tag": "run_tags"}


@dataclass(frozen=True)
class RunSearch:
    experiment_ids: list[int]
    filter: str = ""
    order_by: list[str] = field(default_factory=list)
    view_type: ViewType = "ACTIVE_ONLY"
    max_results: int = 1000
    page_token: str | None = None


def _metric_key_id(key: str, params: Params) -> str:
    return f"(SELECT key_id FROM metric_keys WHERE key = {params.add(key, 'text')})"


def _condition(clause: Comparison, params: Params) -> str:
    op, value = clause.op, clause.value
    if clause.entity == "attribute":
        column, kind = _COLUMNS[clause.key]
        if kind == "int":
            return int_comparison(column, op, value, params)
        return text_comparison(column, op, value, params)
    if clause.entity == "metric":
        return (
            "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_key = r.run_key "
            f"AND m.key_id = {_metric_key_id(clause.key, params)} "
            f"AND {metric_comparison('m.value', op, value, params)})"
        )
    if clause.entity in _KEY_TABLES:
        # A run without the key matches neither "=" nor "!=" (MLflow joins on the key).
        present = (
            f"EXISTS (SELECT 1 FROM {_KEY_TABLES[clause.entity]} p "
            f"WHERE p.run_key = r.run_key AND p.key = {params.add(clause.key, 'text')}"
        )
        if op == "IS NULL":
            return f"NOT {present})"
        if op == "IS NOT NULL":
            return f"{present})"
        return f"{present} AND {text_comparison('p.value', op, value, params)})"
    # Datasets: some input of the run satisfies the comparison.
    if clause.key == "context":
        context = "t->>'value'"
        return (
            "EXISTS (SELECT 1 FROM run_dataset_inputs i, jsonb_array_elements(i.tags) t "
            "WHERE i.run_key = r.run_key AND t->>'key' = 'mlflow.data.context' "
            f"AND {text_comparison(context, op, value, params)})"
        )
    return (
        "EXISTS (SELECT 1 FROM run_dataset_inputs i JOIN datasets d USING (dataset_key) "
        f"WHERE i.run_key = r.run_key AND {text_comparison(f'd.{clause.key}', op, value, params)})"
    )


def _sort_keys(order: tuple[OrderKey, ...], params: Params) -> tuple[list[SortKey], list[str]]:
    """The ORDER BY terms (with MLflow's implicit tie-breakers) and the LEFT JOINs they need."""
    keys: list[SortKey] = []
    joins: list[str] = []
    for n, item in enumerate(order):
        desc = not item.ascending
        if item.entity == "attribute":
            column, kind = _COLUMNS[item.key]
            if kind == "int":
                keys.append(SortKey(column, desc, nullable=True, kind="int"))
            else:
                keys.append(SortKey(f'{column} COLLATE "C"', desc, nullable=False, kind="text"))
            continue
        alias = f"o{n}"
        if item.entity == "metric":
            joins.append(
                f"LEFT JOIN latest_metrics {alias} ON {alias}.run_key = r.run_key "
                f"AND {alias}.key_id = {_metric_key_id(item.key, params)}"
            )
            # Real values in the asked direction, then NaN, then runs without the metric.
            keys.append(SortKey(f"NULLIF({alias}.value, 'NaN')", desc, nullable=True, kind="float"))
            keys.append(SortKey(f"({alias}.value IS NULL)", False, nullable=False, kind="bool"))
        else:
            joins.append(
                f"LEFT JOIN {_KEY_TABLES[item.entity]} {alias} ON {alias}.run_key = r.run_key "
                f"AND {alias}.key = {params.add(item.key, 'text')}"
            )
            keys.append(SortKey(f'{alias}.value COLLATE "C"', desc, nullable=True, kind="text"))
    named = {(item.entity, item.key) for item in order}
    if ("attribute", "run_id") not in named:
        if ("attribute", "start_time") not in named:
            keys.append(SortKey("r.start_time", True, nullable=True, kind="int"))
        keys.append(SortKey('r.run_id COLLATE "C"', False, nullable=False, kind="text"))
    return keys, joins


def compile_run_search(search: RunSearch) -> CompiledSearch:
    """Validate a SearchRuns request and compile one page of it; raises SearchError."""
    check_max_results(search.max_results, _MAX_RESULTS_HINT.format(n=search.max_results))
    clauses = parse_filter(search.filter, RUN_SPEC)
    order = parse_order_by(search.order_by, RUN_SPEC)
    experiment_ids = sorted({parse_experiment_id(e) for e in search.experiment_ids})
    query_fingerprint = fingerprint(
        "runs",
        {
            "experiment_ids": experiment_ids,
            "filter": search.filter or "",
            "order_by": list(search.order_by or ()),
            "view_type": search.view_type,
        },
    )

    if search.view_type not in _STAGES:
        raise SearchError(f"Invalid view_type '{search.view_type}'")
    params = Params()
    keys, joins = _sort_keys(order, params)
    if len(experiment_ids) == 1:
        where = [f"r.experiment_id = {params.add(experiment_ids[0], 'bigint')}"]
    else:
        where = [f"r.experiment_id = ANY({params.add(experiment_ids, 'bigint[]')})"]
    where.append(_STAGES[search.view_type])
    where += [_condition(clause, params) for clause in clauses]
    if search.page_token:
        last = decode_token(search.page_token, query_fingerprint, keys)
        where.append(after_sql(keys, last, params))
    limit = params.add(search.max_results + 1, "bigint")
    sql = (
        f"SELECT r.run_key, r.run_id, {select_sql(keys)}\n"
        "FROM runs r\n"
        + "".join(f"{join}\n" for join in joins)
        + "WHERE "
        + "\n  AND ".join(where)
        + f"\nORDER BY {order_by_sql(keys)}\nLIMIT {limit}"
    )
    return CompiledSearch(sql, params.values, search.max_results, tuple(keys), query_fingerprint)
