"""A plain-Python evaluator of registered-model and model-version searches over a RegistryState:
the test oracle for services.search.registry, itself checked against MLflow's SQL store.

It shares only the parsers with the SQL compiler and evaluates from MLflow's documented rules:

* a tag clause holds only for a model or version that has the tag (``!=`` included);
  ``run_id`` and the other attributes compare as SQL does, a missing (None) value never holds;
* prompts (a model tagged ``mlflow.prompt.is_prompt`` = 'true'; for versions, a model any of
  whose versions is so tagged, deleted ones included) are left out unless the first clause on
  that tag asks for them (``= 'true'`` or ``!= 'false'``); when left out, every clause on that tag
  is ignored;
* LIKE is case-sensitive (``%``, ``_``), ILIKE ignores case, ``=`` is case-sensitive;
* names order by code point; registered models then by name; versions by name ASC then
  version DESC unless ordered by them; deleted versions are never returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from services.registry import ModelVersion, RegisteredModel, RegistryState
from services.search.grammar import Comparison, parse_filter, parse_order_by
from services.search.registry import (
    MODEL_VERSION_SPEC,
    REGISTERED_MODEL_SPEC,
    parse_registered_model_order_clause,
)
from tests.support.search_oracle import like_regex

PROMPT = "mlflow.prompt.is_prompt"


def _holds(op: str, lhs: Any, rhs: Any) -> bool:
    if lhs is None:
        return False
    if op == "LIKE":
        return like_regex(rhs).fullmatch(lhs) is not None
    if op == "ILIKE":
        return like_regex(rhs, ignore_case=True).fullmatch(lhs) is not None
    if op == "IN":
        return lhs in rhs
    if op == "NOT IN":
        return lhs not in rhs
    return {
        "=": lhs == rhs,
        "!=": lhs != rhs,
        "<": lhs < rhs,
        "<=": lhs <= rhs,
        ">": lhs > rhs,
        ">=": lhs >= rhs,
    }[op]


def _prompt_rule(clauses: Sequence[Comparison]) -> tuple[list[Comparison], bool]:
    for clause in clauses:
        if clause.entity == "tag" and clause.key == PROMPT:
            wanted = (clause.op, str(clause.value).lower()) in (("=", "true"), ("!=", "false"))
            if wanted:
                return list(clauses), False
            break
    return [c for c in clauses if not (c.entity == "tag" and c.key == PROMPT)], True


def _sorted(items: list[Any], keys: Sequence[tuple[Callable[[Any], Any], bool]]) -> list[Any]:
    # Stable sorts from the last key to the first: each key's direction on its own.
    for get, ascending in reversed(keys):
        items = sorted(items, key=get, reverse=not ascending)
    return items


def search_registered_models(
    state: RegistryState, filter_string: str = "", order_by: Sequence[str] = ()
) -> list[str]:
    """The names a complete search returns, in order."""
    clauses, exclude_prompts = _prompt_rule(parse_filter(filter_string, REGISTERED_MODEL_SPEC))

    def matches(model: RegisteredModel) -> bool:
        if exclude_prompts and model.tags.get(PROMPT) == "true":
            return False
        for clause in clauses:
            value = model.name if clause.entity == "attribute" else model.tags.get(clause.key)
            if not _holds(clause.op, value, clause.value):
                return False
        return True

    chosen = [m for m in state.models.values() if matches(m)]
    keys: list[tuple[Callable[[Any], Any], bool]] = []
    named = False
    for clause in order_by:
        key, ascending = parse_registered_model_order_clause(clause)
        if key == "name":
            named = True
            keys.append((lambda m: m.name, ascending))
        else:
            keys.append((lambda m: m.last_updated_timestamp, ascending))
    if not named:
        keys.append((lambda m: m.name, True))
    return [m.name for m in _sorted(chosen, keys)]


_VERSION_FIELDS: dict[str, Callable[[tuple[RegisteredModel, ModelVersion]], Any]] = {
    "name": lambda mv: mv[0].name,
    "version_number": lambda mv: mv[1].version,
    "creation_timestamp": lambda mv: mv[1].creation_timestamp,
    "last_updated_timestamp": lambda mv: mv[1].last_updated_timestamp,
    "run_id": lambda mv: mv[1].run_id,
    "source_path": lambda mv: mv[1].source,
}


def search_model_versions(
    state: RegistryState, filter_string: str = "", order_by: Sequence[str] = ()
) -> list[tuple[str, int]]:
    """The (name, version) pairs a complete search returns, in order."""
    clauses, exclude_prompts = _prompt_rule(parse_filter(filter_string, MODEL_VERSION_SPEC))

    def matches(model: RegisteredModel, version: ModelVersion) -> bool:
        if version.deleted:
            return False
        if exclude_prompts and any(v.tags.get(PROMPT) == "true" for v in model.versions.values()):
            return False
        for clause in clauses:
            if clause.entity == "tag":
                value: Any = version.tags.get(clause.key)
                wanted: Any = clause.value
            else:
                value = _VERSION_FIELDS[clause.key]((model, version))
                wanted = int(clause.value) if clause.key == "version_number" else clause.value  # type: ignore[arg-type]
            if not _holds(clause.op, value, wanted):
                return False
        return True

    chosen = [
        (model, version)
        for model in state.models.values()
        for version in model.versions.values()
        if matches(model, version)
    ]
    order = parse_order_by(
        list(order_by) or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"],
        MODEL_VERSION_SPEC,
    )
    keys = [(_VERSION_FIELDS[o.key], o.ascending) for o in order]
    named = {o.key for o in order}
    if "name" not in named:
        keys.append((_VERSION_FIELDS["name"], True))
    if "version_number" not in named:
        keys.append((_VERSION_FIELDS["version_number"], False))
    return [(m.name, v.version) for m, v in _sorted(chosen, keys)]
