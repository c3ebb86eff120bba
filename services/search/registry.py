"""SearchRegisteredModels and SearchModelVersions: MLflow's registry filters and orderings
compiled to keyset-paged PostgreSQL queries over the registry read models.

The rules are MLflow 3.17.2's (``SearchModelUtils``, ``SearchModelVersionUtils`` and the SQL
store): registered models filter on ``name`` and tags, versions on ``name``, ``run_id``,
``source_path``, ``version_number`` and tags; tags take ``= != LIKE ILIKE``; ``IN`` lists only
where MLflow allows them. Prompts (``mlflow.prompt.is_prompt`` = 'true') are left out unless the
filter asks for them, and then clauses on that tag are dropped, so the client's own
``tag.`mlflow.prompt.is_prompt` != 'true'`` matches models without the tag. Deleted versions
are never returned.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.search.errors import SearchError
from services.search.grammar import (
    ComparatorRule,
    Comparison,
    Entity,
    SearchSpec,
    Value,
    parse_filter,
    parse_order_by,
    render_set,
)
from services.search.paging import (
    CompiledSearch,
    SortKey,
    after_sql,
    decode_token,
    fingerprint,
    order_by_sql,
    select_sql,
)
from services.search.sqltext import Params, int_comparison, text_comparison
from services.search.tokens import INTEGER, Atom, parse_list, strip_quotes

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
DELETED_STAGE = "Deleted_Internal"

REGISTERED_MODELS_MAX_RESULTS = 1000
MODEL_VERSIONS_MAX_RESULTS = 200_000

_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_TAG_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
_PREFIXES: dict[str, Entity] = {"attribute": "attribute", "tag": "tag", "tags": "tag"}


def _invalid_entity(prefix: str) -> str:
    return f"Invalid entity type '{prefix}'. Valid entity types are ('attribute', 'tag', 'tags')"


def _no_null_checks(entity: Entity, key: str) -> str:
    # MLflow's registry parser has no IS NULL: it fails with an unhandled error (a 500).
    return f"IS NULL / IS NOT NULL is not supported in registry searches, found on '{key}'"


def _is_string_value(atom: Atom) -> bool:
    return atom.kind in ("squote", "dquote", "ident") or (atom.kind == "word" and not atom.keyword)


def _list_refusal(keys: frozenset[str]) -> SearchError:
    return SearchError(
        f"Only {sorted(keys)} attributes support comparison with a list of quoted string values."
    )


# ---------------------------------------------------------------------------------------------
# Specs

_MODEL_LIST_KEYS = frozenset({"name"})


def _model_attribute_value(key: str, atom: Atom) -> Value:
    """``SearchModelUtils._get_value`` for attributes: a quoted string or a list, never a
    number."""
    if _is_string_value(atom):
        return strip_quotes(atom.text, expect_quoted=True)
    if atom.kind == "paren":
        if key not in _MODEL_LIST_KEYS:
            raise _list_refusal(_MODEL_LIST_KEYS)
        return parse_list(atom.inner)
    raise SearchError(
        "Expected a quoted string value or a list of quoted string values for attributes. "
        f"Got value {atom.text}"
    )


REGISTERED_MODEL_SPEC = SearchSpec(
    kind="registered_models",
    prefixes=_PREFIXES,
    invalid_entity=_invalid_entity,
    filter_attributes=frozenset({"name"}),
    order_attributes=frozenset({"name", "timestamp", "last_updated_timestamp"}),
    numeric_attributes=frozenset(),
    list_attributes=_MODEL_LIST_KEYS,
    comparators={
        "string_attribute": ComparatorRule(
            _STRING_OPS, lambda op: f"Invalid comparator for attribute: {op}"
        ),
        "tag": ComparatorRule(_TAG_OPS, lambda op: f"Invalid comparator for tag: {op}"),
    },
    null_check_entities=frozenset(),
    null_check_refusal=_no_null_checks,
    order_entities=frozenset({"attribute"}),
    order_entity_refusal=lambda entity: f"Invalid order_by entity: {entity}",
    quote_invalid_clauses=False,
    attribute_value=_model_attribute_value,
)

_VERSION_LIST_KEYS = frozenset({"name", "run_id"})
_VERSION_NUMERIC_KEYS = frozenset(
    {"version_number", "creation_timestamp", "last_updated_timestamp"}
)
_VERSION_ORDER_KEYS = frozenset(
    {"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
)


def _version_attribute_value(key: str, atom: Atom) -> Value:
    """``SearchModelVersionUtils._get_value`` for attributes: strings (also for version_number,
    which the store then reads as an integer), lists, or numbers for the numeric keys."""
    if _is_string_value(atom):
        return strip_quotes(atom.text, expect_quoted=True)
    if atom.kind == "paren":
        if key not in _VERSION_LIST_KEYS:
            raise _list_refusal(_VERSION_LIST_KEYS)
        return parse_list(atom.inner)
    if atom.kind == "number":
        if key not in _VERSION_NUMERIC_KEYS:
            raise SearchError(
                f"Only the '{render_set(_VERSION_NUMERIC_KEYS)}' attributes support comparison "
                "with numeric values."
            )
        return int(atom.text) if INTEGER.fullmatch(atom.text) else float(atom.text)
    raise SearchError(
        "Expected a quoted string value or a list of quoted string values for attributes. "
        f"Got value {atom.text}"
    )


MODEL_VERSION_SPEC = SearchSpec(
    kind="model_versions",
    prefixes=_PREFIXES,
    invalid_entity=_invalid_entity,
    filter_attributes=frozenset({"name", "version_number", "run_id", "source_path"}),
    order_attributes=_VERSION_ORDER_KEYS,
    numeric_attributes=frozenset({"version_number"}),
    list_attributes=_VERSION_LIST_KEYS,
    comparators={
        "attribute:version_number": ComparatorRule(
            _NUMERIC_OPS, lambda op: f"Invalid comparator for attribute version_number: {op}"
        ),
        "string_attribute": ComparatorRule(
            _STRING_OPS, lambda op: f"Invalid comparator for attribute: {op}"
        ),
        "tag": ComparatorRule(_TAG_OPS, lambda op: f"Invalid comparator for tag: {op}"),
    },
    null_check_entities=frozenset(),
    null_check_refusal=_no_null_checks,
    # MLflow reads ``tags.<key>`` in an order_by as that attribute (and refuses other keys).
    order_entities=frozenset({"attribute", "tag"}),
    order_entity_refusal=lambda entity: f"Invalid order_by entity: {entity}",
    quote_invalid_clauses=False,
    attribute_value=_version_attribute_value,
)


# ---------------------------------------------------------------------------------------------
# Shared pieces


def _check_max_results(max_results: int, limit: int) -> None:
    if max_results < 1:
        raise SearchError(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    if max_results > limit:
        raise SearchError(
            "Invalid value for request parameter max_results. It must be at most "
            f"{limit}, but got value {max_results}"
        )


def is_querying_prompts(clauses: Sequence[Comparison]) -> bool:
    """MLflow's ``_is_querying_prompt``: the first clause on the prompt tag decides."""
    for clause in clauses:
        if clause.entity == "tag" and clause.key == IS_PROMPT_TAG:
            value = str(clause.value).lower()
            return (clause.op, value) in (("=", "true"), ("!=", "false"))
    return False


def _prompt_rule(clauses: Sequence[Comparison]) -> tuple[list[Comparison], bool]:
    """The clauses to apply, and whether prompts are to be left out. Unless prompts are asked
    for, clauses on the prompt tag are dropped and prompts excluded (MLflow's SQL store)."""
    if is_querying_prompts(clauses):
        return list(clauses), False
    kept = [c for c in clauses if not (c.entity == "tag" and c.key == IS_PROMPT_TAG)]
    return kept, True


def _duplicates(order_by: Sequence[str]) -> SearchError:
    return SearchError(f"`order_by` contains duplicate fields: {list(order_by)}")


def _compiled(
    select: str,
    source: str,
    where: list[str],
    keys: list[SortKey],
    params: Params,
    max_results: int,
    query_fingerprint: str,
    page_token: str | None,
) -> CompiledSearch:
    if page_token:
        last = decode_token(page_token, query_fingerprint, keys)
        where.append(after_sql(keys, last, params))
    limit = params.add(max_results + 1, "bigint")
    sql = (
        f"SELECT {select}, {select_sql(keys)}\n"
        f"FROM {source}\n"
        "WHERE " + ("\n  AND ".join(where) or "true") + "\n"
        f"ORDER BY {order_by_sql(keys)}\nLIMIT {limit}"
    )
    return CompiledSearch(sql, params.values, max_results, tuple(keys), query_fingerprint)


# ---------------------------------------------------------------------------------------------
# Registered models

_MODEL_ORDER_KEYS = frozenset({"name", "timestamp", "last_updated_timestamp"})


@dataclass(frozen=True)
class RegisteredModelSearch:
    filter: str | None = None
    order_by: list[str] = field(default_factory=list)
    max_results: int = 100
    page_token: str | None = None


def parse_registered_model_order_clause(clause: str) -> tuple[str, bool]:
    """``SearchUtils.parse_order_by_for_search_registered_models``: ``name``, ``timestamp`` or
    ``last_updated_timestamp`` with an optional direction, no prefixes; (key, ascending)."""
    unparsable = SearchError(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    try:
        words = shlex.split(clause.replace("`", '"'))
    except ValueError:
        raise unparsable from None
    if not words or len(words) > 2 or clause != clause.strip():
        raise unparsable
    ascending = True
    if len(words) == 2:
        direction = words[1].lower()
        if direction not in ("asc", "desc"):
            raise SearchError(f"Invalid ordering key in order_by clause '{clause}'.")
        ascending = direction == "asc"
    # MLflow unquotes the key only when a direction follows it (a lone `name` is no key).
    key = words[0].strip() if len(words) == 2 else clause.strip()
    if key not in _MODEL_ORDER_KEYS:
        raise SearchError(
            f"Invalid order by key '{key}' specified. Valid keys are "
            f"'{render_set({'name', 'timestamp'})}'"
        )
    return key, ascending


def _model_condition(clause: Comparison, params: Params) -> str:
    if clause.entity == "tag":
        return (
            "EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.name = m.name "
            f"AND t.key = {params.add(clause.key, 'text')} "
            f"AND {text_comparison('t.value', clause.op, clause.value, params)})"
        )
    return text_comparison("m.name", clause.op, clause.value, params)


def compile_registered_model_search(search: RegisteredModelSearch) -> CompiledSearch:
    """Validate a SearchRegisteredModels request and compile one page of it; the query returns
    ``name`` and the sort keys. Raises SearchError."""
    _check_max_results(search.max_results, REGISTERED_MODELS_MAX_RESULTS)
    clauses, exclude_prompts = _prompt_rule(parse_filter(search.filter, REGISTERED_MODEL_SPEC))
    keys: list[SortKey] = []
    seen: set[str] = set()
    for clause in search.order_by or ():
        key, ascending = parse_registered_model_order_clause(clause)
        column = "name" if key == "name" else "last_updated_timestamp"
        if column in seen:
            raise _duplicates(search.order_by)
        seen.add(column)
        if column == "name":
            keys.append(SortKey('m.name COLLATE "C"', not ascending, False, "text"))
        else:
            keys.append(SortKey("m.last_updated_timestamp", not ascending, False, "int"))
    if "name" not in seen:
        keys.append(SortKey('m.name COLLATE "C"', False, False, "text"))

    params = Params()
    where = [_model_condition(clause, params) for clause in clauses]
    if exclude_prompts:
        where.append(
            "NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.name = m.name "
            f"AND p.key = '{IS_PROMPT_TAG}' AND p.value = 'true')"
        )
    query_fingerprint = fingerprint(
        "registered_models",
        {"filter": search.filter or "", "order_by": list(search.order_by or ())},
    )
    return _compiled(
        "m.name",
        "registered_models m",
        where,
        keys,
        params,
        search.max_results,
        query_fingerprint,
        search.page_token,
    )


# ---------------------------------------------------------------------------------------------
# Model versions

_DEFAULT_VERSION_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
_VERSION_COLUMNS = {
    "name": ('v.name COLLATE "C"', "text"),
    "version_number": ("v.version", "int"),
    "creation_timestamp": ("v.creation_timestamp", "int"),
    "last_updated_timestamp": ("v.last_updated_timestamp", "int"),
}
_STRING_COLUMNS = {"name": "v.name", "run_id": "v.run_id", "source_path": "v.source"}


@dataclass(frozen=True)
class ModelVersionSearch:
    filter: str | None = None
    order_by: list[str] = field(default_factory=list)
    max_results: int = 10_000
    page_token: str | None = None


def _version_number(value: Value) -> int:
    # The SQL store reads the value with int(); a float (or text that is no integer) is refused.
    if isinstance(value, float):
        raise SearchError(f"Invalid value for numeric attribute 'version_number': {value!r}")
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SearchError(
            f"Invalid value for numeric attribute 'version_number': {value!r}"
        ) from None


def _version_condition(clause: Comparison, params: Params) -> str:
    if clause.entity == "tag":
        return (
            "EXISTS (SELECT 1 FROM model_version_tags t WHERE t.name = v.name "
            f"AND t.version = v.version AND t.key = {params.add(clause.key, 'text')} "
            f"AND {text_comparison('t.value', clause.op, clause.value, params)})"
        )
    if clause.key == "version_number":
        return int_comparison("v.version", clause.op, _version_number(clause.value), params)
    return text_comparison(_STRING_COLUMNS[clause.key], clause.op, clause.value, params)


def compile_model_version_search(search: ModelVersionSearch) -> CompiledSearch:
    """Validate a SearchModelVersions request and compile one page of it; the query returns
    ``name``, ``version`` and the sort keys. Raises SearchError."""
    _check_max_results(search.max_results, MODEL_VERSIONS_MAX_RESULTS)
    clauses, exclude_prompts = _prompt_rule(parse_filter(search.filter, MODEL_VERSION_SPEC))
    order_by = list(search.order_by or _DEFAULT_VERSION_ORDER)
    keys: list[SortKey] = []
    seen: set[str] = set()
    for item in parse_order_by(order_by, MODEL_VERSION_SPEC):
        if item.key not in _VERSION_ORDER_KEYS:  # a tags.<key> that names no attribute
            raise SearchError(
                f"Invalid order by key '{item.key}' specified. Valid keys are "
                f"{render_set(_VERSION_ORDER_KEYS)}"
            )
        if item.key in seen:
            raise _duplicates(order_by)
        seen.add(item.key)
        column, kind = _VERSION_COLUMNS[item.key]
        keys.append(SortKey(column, not item.ascending, False, kind))  # type: ignore[arg-type]
    if "name" not in seen:
        keys.append(SortKey('v.name COLLATE "C"', False, False, "text"))
    if "version_number" not in seen:
        keys.append(SortKey("v.version", True, False, "int"))

    params = Params()
    where = [f"v.current_stage <> '{DELETED_STAGE}'"]
    where += [_version_condition(clause, params) for clause in clauses]
    if exclude_prompts:
        # MLflow's anti-join: versions of a model any of whose versions carries the prompt tag.
        where.append(
            "NOT EXISTS (SELECT 1 FROM model_version_tags p WHERE p.name = v.name "
            f"AND p.key = '{IS_PROMPT_TAG}' AND p.value = 'true')"
        )
    query_fingerprint = fingerprint(
        "model_versions",
        {"filter": search.filter or "", "order_by": list(search.order_by or ())},
    )
    return _compiled(
        "v.name, v.version",
        "model_versions v",
        where,
        keys,
        params,
        search.max_results,
        query_fingerprint,
        search.page_token,
    )
