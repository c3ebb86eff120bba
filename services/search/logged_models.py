"""Search for MLflow 3 logged models: the filter grammar over attributes, params, tags and
metrics; structured order_by; offset page tokens bound to the query, as MLflow's are."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.search.errors import SearchError
from services.search.grammar import (
    MLFLOW_NAME,
    ComparatorRule,
    Comparison,
    SearchSpec,
    parse_filter,
    render_set,
)
from services.search.sqltext import Params, int_comparison, metric_comparison, text_comparison

_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_KEYED_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})

_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("m.name", "text"),
    "model_id": ("m.model_id", "text"),
    "model_type": ("m.model_type", "text"),
    "status": ("m.status", "text"),
    "source_run_id": ("m.source_run_id", "text"),
    "creation_timestamp": ("m.creation_timestamp_ms", "int"),
    "last_updated_timestamp": ("m.last_updated_timestamp_ms", "int"),
}
_ALIASES = {
    "creation_time": "creation_timestamp",
    "creation_timestamp_ms": "creation_timestamp",
    "last_updated_time": "last_updated_timestamp",
    "last_updated_timestamp_ms": "last_updated_timestamp",
}


def _rule(allowed: frozenset[str]) -> ComparatorRule:
    text = render_set(allowed)
    return ComparatorRule(allowed, lambda op: f"Invalid comparator '{op}' not one of '{text}'")


LOGGED_MODEL_SPEC = SearchSpec(
    kind="logged_models",
    prefixes={
        "metric": "metric",
        "metrics": "metric",
        "param": "param",
        "params": "param",
        "tag": "tag",
        "tags": "tag",
        "attribute": "attribute",
        "attributes": "attribute",
    },
    invalid_entity=lambda prefix: (
        f"Invalid entity type '{prefix}'. Valid values are ['metric', 'parameter', 'tag', "
        "'attribute']"
    ),
    filter_attributes=frozenset(_COLUMNS) | frozenset(_ALIASES),
    order_attributes=frozenset(_COLUMNS) | frozenset(_ALIASES),
    numeric_attributes=frozenset({"creation_timestamp", "last_updated_timestamp", *_ALIASES}),
    list_attributes=frozenset({"name", "model_id", "model_type", "status", "source_run_id"}),
    attribute_aliases=_ALIASES,
    comparators={
        "metric": _rule(_NUMERIC_OPS),
        "param": _rule(_KEYED_OPS),
        "tag": _rule(_KEYED_OPS),
        "string_attribute": _rule(_STRING_OPS),
        "numeric_attribute": _rule(_NUMERIC_OPS),
    },
    null_check_entities=frozenset(),
    null_check_refusal=lambda entity, key: (
        f"IS NULL / IS NOT NULL is not supported for '{MLFLOW_NAME[entity]}' '{key}'"
    ),
    order_entities=frozenset({"attribute", "metric"}),
    order_entity_refusal=lambda entity: f"Invalid order by field name: {MLFLOW_NAME[entity]}",
)

DEFAULT_MAX_RESULTS = 50


@dataclass(frozen=True)
class LoggedModelSearch:
    experiment_ids: list[int]
    filter: str = ""
    order_by: list[Mapping[str, Any]] = field(default_factory=list)
    datasets: list[Mapping[str, Any]] = field(default_factory=list)
    max_results: int | None = None
    page_token: str | None = None

    def fingerprint(self) -> str:
        return hashlib.sha256(
            orjson.dumps(
                [self.experiment_ids, self.filter, list(self.order_by), list(self.datasets)],
                option=orjson.OPT_SORT_KEYS,
            )
        ).hexdigest()[:16]


@dataclass(frozen=True)
class CompiledModelSearch:
    sql: str
    args: list[Any]
    offset: int
    limit: int
    fingerprint: str

    def page(self, rows: Sequence[Any]) -> tuple[list[Any], str | None]:
        if len(rows) <= self.limit:
            return list(rows), None
        token = {"offset": self.offset + self.limit, "query": self.fingerprint}
        return list(rows[: self.limit]), base64.b64encode(orjson.dumps(token)).decode()


def _offset(token: str | None, fingerprint: str) -> int:
    if not token:
        return 0
    try:
        decoded = orjson.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise SearchError("Invalid page token, could not base64-decode") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("offset"), int):
        raise SearchError(f"Invalid page token, decoded value={decoded!r}")
    if decoded.get("query") != fingerprint:
        raise SearchError(
            "Invalid page token: it was issued for a different search (experiment_ids, filter, "
            "datasets or order_by changed)"
        )
    return int(decoded["offset"])


def _latest_metric(key_param: str, datasets: str) -> str:
    # The model's metric value: its most recent point (timestamp, then step), as MLflow takes it.
    return (
        "(SELECT mm.value FROM metrics mm JOIN metric_keys kk USING (key_id) "
        f"WHERE mm.model_id = m.model_id AND kk.key = {key_param}{datasets} "
        "ORDER BY mm.timestamp DESC, mm.step DESC LIMIT 1)"
    )


def _clause(clause: Comparison, params: Params) -> str:
    if clause.entity == "attribute":
        key = _ALIASES.get(clause.key, clause.key)
        column, kind = _COLUMNS[key]
        if kind == "int":
            return int_comparison(column, clause.op, clause.value, params)
        return text_comparison(column, clause.op, clause.value, params)
    if clause.entity == "metric":
        value = _latest_metric(params.add(clause.key, "text"), "")
        return metric_comparison(value, clause.op, float(clause.value), params)  # type: ignore[arg-type]
    table = "logged_model_params" if clause.entity == "param" else "logged_model_tags"
    key = params.add(clause.key, "text")
    inner = text_comparison("t.value", clause.op, clause.value, params)
    return (
        f"EXISTS (SELECT 1 FROM {table} t "
        f"WHERE t.model_id = m.model_id AND t.key = {key} AND {inner})"
    )


def compile_logged_model_search(search: LoggedModelSearch) -> CompiledModelSearch:
    params = Params()
    clauses = parse_filter(search.filter, LOGGED_MODEL_SPEC)
    where = [
        f"m.experiment_id = ANY({params.add(search.experiment_ids, 'bigint[]')})",
        "m.lifecycle_stage = 'active'",
        *(_clause(c, params) for c in clauses),
    ]
    for dataset in search.datasets:
        name = dataset.get("dataset_name")
        if not name:
            raise SearchError("`dataset_name` in the `datasets` clause must be specified.")
        digest = dataset.get("dataset_digest")
        condition = f"mm.dataset_name = {params.add(name, 'text')}"
        if digest:
            condition += f" AND mm.dataset_digest = {params.add(digest, 'text')}"
        where.append(
            f"EXISTS (SELECT 1 FROM metrics mm WHERE mm.model_id = m.model_id AND {condition})"
        )
    order: list[str] = []
    named: set[str] = set()
    for item in search.order_by:
        field_name = str(item.get("field_name", ""))
        ascending = bool(item.get("ascending", True))
        direction = "ASC" if ascending else "DESC"
        if "." in field_name:
            entity, _, key = field_name.partition(".")
            if entity != "metrics":
                raise SearchError(
                    f"Invalid order by field name: {field_name}. Only metrics are supported."
                )
            datasets = ""
            if item.get("dataset_name"):
                datasets += f" AND mm.dataset_name = {params.add(item['dataset_name'], 'text')}"
            if item.get("dataset_digest"):
                digest_param = params.add(item["dataset_digest"], "text")
                datasets += f" AND mm.dataset_digest = {digest_param}"
            order.append(
                f"{_latest_metric(params.add(key, 'text'), datasets)} {direction} NULLS LAST"
            )
            continue
        key = _ALIASES.get(field_name, field_name)
        if key not in _COLUMNS:
            raise SearchError(f"Invalid order by field name: {field_name}")
        named.add(key)
        order.append(f"{_COLUMNS[key][0]} {direction} NULLS LAST")
    if "creation_timestamp" not in named:
        order.append("m.creation_timestamp_ms DESC")
    if "model_id" not in named:
        order.append("m.model_id ASC")
    limit = search.max_results or DEFAULT_MAX_RESULTS
    fingerprint = search.fingerprint()
    offset = _offset(search.page_token, fingerprint)
    sql = (
        f"SELECT m.model_id FROM logged_models m WHERE {' AND '.join(where)} "
        f"ORDER BY {', '.join(order)} OFFSET {params.add(offset, 'bigint')} "
        f"LIMIT {params.add(limit + 1, 'bigint')}"
    )
    return CompiledModelSearch(sql, params.values, offset, limit, fingerprint)
