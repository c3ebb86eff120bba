"""MLflow's search grammar: filter strings and order_by clauses in, a small frozen AST out.

One parser serves every search kind. A `SearchSpec` says which entities, attributes and
comparators a kind allows and how MLflow words its refusals for that kind; the runs and
experiments specs live next to their compilers.

The filter language is a conjunction: ``<comparison> [AND <comparison>]*``. MLflow tokenises it
with sqlparse and then walks the token list; we tokenise it ourselves and walk the same way, so
the error texts line up with MLflow's (a stray token is reported as an invalid clause, exactly
as sqlparse leaves it ungrouped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.search.errors import SearchError
from services.search.tokens import (
    INTEGER,
    Atom,
    parse_list,
    strip_quotes,
    tokenize,
    trim_backticks,
)

Entity = Literal["metric", "param", "tag", "attribute", "dataset"]
Value = int | float | str | tuple[str, ...] | None

# MLflow's own word for each entity, used inside its messages.
MLFLOW_NAME: dict[Entity, str] = {
    "metric": "metric",
    "param": "parameter",
    "tag": "tag",
    "attribute": "attribute",
    "dataset": "dataset",
}


@dataclass(frozen=True)
class Comparison:
    """One clause of a filter. ``op`` is upper-case and single-spaced (``"NOT IN"``);
    ``key`` is the canonical attribute name for attributes (``created`` -> ``start_time``)."""

    entity: Entity
    key: str
    op: str
    value: Value


@dataclass(frozen=True)
class OrderKey:
    entity: Entity
    key: str
    ascending: bool


@dataclass(frozen=True)
class ComparatorRule:
    """The comparators one kind of field accepts, and MLflow's refusal for any other."""

    allowed: frozenset[str]
    refusal: Callable[[str], str]


@dataclass(frozen=True)
class SearchSpec:
    """What one search kind (runs, experiments, later registered models...) accepts.

    ``comparators`` is keyed by field class: ``metric``, ``param``, ``tag``, ``dataset``,
    ``string_attribute``, ``numeric_attribute``, or ``attribute:<key>`` for one attribute.
    """

    kind: str
    prefixes: Mapping[str, Entity]
    invalid_entity: Callable[[str], str]
    filter_attributes: frozenset[str]
    order_attributes: frozenset[str]
    numeric_attributes: frozenset[str]
    list_attributes: frozenset[str]
    comparators: Mapping[str, ComparatorRule]
    null_check_entities: frozenset[Entity]
    null_check_refusal: Callable[[Entity, str], str]
    order_entities: frozenset[Entity]
    order_entity_refusal: Callable[[Entity], str]
    attribute_aliases: Mapping[str, str] = field(default_factory=dict)
    dataset_keys: frozenset[str] = frozenset()
    quote_invalid_clauses: bool = True
    reject_duplicate_order_keys: bool = True
    attribute_value: Callable[[str, Atom], Value] | None = None
    """Reads an attribute's value (given the key as written) for a kind whose value rules and
    messages differ from the ones below (the registry's); None for the common rules."""

    def field_class(self, entity: Entity, key: str) -> str:
        if entity != "attribute":
            return entity
        if f"attribute:{key}" in self.comparators:
            return f"attribute:{key}"
        return "numeric_attribute" if key in self.numeric_attributes else "string_attribute"


_PATTERN_OPS = frozenset({"LIKE", "ILIKE", "RLIKE"})
_DIRECTIONS = frozenset({"ASC", "DESC"})


def render_set(items: Iterable[str]) -> str:
    """A Python set literal, sorted. MLflow prints raw sets, whose order changes per process."""
    return "{" + ", ".join(repr(item) for item in sorted(items)) + "}"


# ---------------------------------------------------------------------------------------------
# Identifiers and values


def _resolve_identifier(
    atom: Atom, spec: SearchSpec, valid_attributes: frozenset[str]
) -> tuple[Entity, str]:
    """``prefix.key`` or a bare ``key`` (an attribute); the key as written, unaliased."""
    parts = atom.parts or (atom.text,)
    if len(parts) == 1:
        entity: Entity = "attribute"
        key_text = parts[0]
    else:
        prefix = trim_backticks(parts[0])
        if prefix not in spec.prefixes:
            raise SearchError(spec.invalid_entity(prefix))
        entity = spec.prefixes[prefix]
        key_text = ".".join(parts[1:])
    key = trim_backticks(strip_quotes(key_text, expect_quoted=False))
    if entity == "attribute" and key not in valid_attributes:
        valid = render_set(valid_attributes)
        raise SearchError(f"Invalid attribute key '{key}' specified. Valid keys are '{valid}'")
    if entity == "dataset" and key not in spec.dataset_keys:
        valid = render_set(spec.dataset_keys)
        raise SearchError(f"Invalid dataset key '{key}' specified. Valid keys are '{valid}'")
    return entity, key


def _is_stringish(atom: Atom) -> bool:
    """A token MLflow takes as a string value: quoted, or an identifier it then finds unquoted."""
    return atom.kind in ("squote", "dquote", "ident") or (atom.kind == "word" and not atom.keyword)


def _number(atom: Atom) -> int | float:
    return int(atom.text) if INTEGER.fullmatch(atom.text) else float(atom.text)


def _value(entity: Entity, key: str, atom: Atom, spec: SearchSpec) -> Value:
    if entity == "metric":
        if atom.kind != "number":
            raise SearchError(f"Expected numeric value type for metric. Found {atom.text}")
        return float(atom.text)
    if entity in ("param", "tag"):
        if _is_stringish(atom):
            return strip_quotes(atom.text, expect_quoted=True)
        raise SearchError(
            f"Expected a quoted string value for {MLFLOW_NAME[entity]} (e.g. 'my-value'). "
            f"Got value {atom.text}"
        )
    if entity == "attribute":
        if spec.attribute_value is not None:
            return spec.attribute_value(key, atom)
        if key in spec.numeric_attributes:
            if atom.kind != "number":
                raise SearchError(
                    f"Expected numeric value type for numeric attribute: {key}. Found {atom.text}"
                )
            return _number(atom)
        if _is_stringish(atom):
            return strip_quotes(atom.text, expect_quoted=True)
        if atom.kind == "paren":
            if key not in spec.list_attributes:
                raise SearchError(
                    f"Only {sorted(spec.list_attributes)} attributes support comparison with a "
                    "list of quoted string values."
                )
            return parse_list(atom.inner)
        raise SearchError(f"Expected a quoted string value for attributes. Got value {atom.text}")
    # dataset
    if _is_stringish(atom):
        return strip_quotes(atom.text, expect_quoted=True)
    if atom.kind == "paren":
        return parse_list(atom.inner)
    raise SearchError(
        f"Expected a quoted string value for dataset attributes. Got value {atom.text}"
    )


# ---------------------------------------------------------------------------------------------
# Filters


@dataclass(frozen=True)
class _RawComparison:
    lhs: Atom
    op: str
    rhs: Atom | None


def _next(atoms: Sequence[Atom], i: int) -> int:
    while i < len(atoms) and atoms[i].kind == "ws":
        i += 1
    return i


def _comparison_at(atoms: Sequence[Atom], i: int) -> tuple[_RawComparison, int] | None:
    """A comparison starting at ``atoms[i]``, and the index after it; None if there is none."""
    lhs = atoms[i]
    if not (lhs.kind in ("ident", "dquote") or (lhs.kind == "word" and not lhs.keyword)):
        return None
    n = len(atoms)

    def at(j: int) -> Atom | None:
        return atoms[j] if j < n else None

    j = _next(atoms, i + 1)
    first = at(j)
    if first is None:
        return None
    op: str | None = None
    if first.kind == "op" or first.keyword in _PATTERN_OPS:
        op = first.text.upper()
    elif first.keyword in ("NOT", "IN", "IS"):
        k = _next(atoms, j + 1)
        second = at(k)
        if second is None:
            return None
        if first.keyword == "IS":
            if second.keyword == "NULL":
                return _RawComparison(lhs, "IS NULL", None), k + 1
            if second.keyword == "NOT":
                m = _next(atoms, k + 1)
                third = at(m)
                if third is not None and third.keyword == "NULL":
                    return _RawComparison(lhs, "IS NOT NULL", None), m + 1
            return None
        if first.keyword == "IN":
            return (_RawComparison(lhs, "IN", second), k + 1) if second.kind == "paren" else None
        # NOT ...
        if second.keyword == "IN":
            m = _next(atoms, k + 1)
            third = at(m)
            if third is not None and third.kind == "paren":
                return _RawComparison(lhs, "NOT IN", third), m + 1
            return None
        if second.keyword in _PATTERN_OPS:
            op, j = f"NOT {second.keyword}", k
        else:
            return None
    if op is None:
        return None
    k = _next(atoms, j + 1)
    rhs = at(k)
    if rhs is None or rhs.kind not in ("squote", "dquote", "number", "word", "ident"):
        return None
    return _RawComparison(lhs, op, rhs), k + 1


def parse_filter(text: str | None, spec: SearchSpec) -> tuple[Comparison, ...]:
    """Parse an MLflow filter string; an empty or missing filter matches everything."""
    if not text:
        return ()
    if not text.strip():
        raise SearchError(f"Invalid filter '{text}'. Could not be parsed.")
    atoms = tokenize(text)
    for idx, atom in enumerate(atoms):
        if atom.kind == "semi" and any(a.kind != "ws" for a in atoms[idx + 1 :]):
            raise SearchError(
                f"Search filter contained multiple expression {text!r}. "
                "Provide AND-ed expression list."
            )

    raw: list[_RawComparison] = []
    invalid: list[str] = []
    i = _next(atoms, 0)
    while i < len(atoms):
        atom = atoms[i]
        if atom.keyword == "AND":
            i = _next(atoms, i + 1)
            continue
        found = _comparison_at(atoms, i)
        if found is None:
            invalid.append(atom.text)
            i = _next(atoms, i + 1)
            continue
        raw.append(found[0])
        i = _next(atoms, found[1])
    if invalid:
        shown = [f"'{t}'" for t in invalid] if spec.quote_invalid_clauses else invalid
        raise SearchError(f"Invalid clause(s) in filter string: {', '.join(shown)}")

    # MLflow reads every clause (identifier, value) before it checks any comparator.
    read: list[tuple[Entity, str, str, Value]] = []
    for clause in raw:
        entity, key = _resolve_identifier(clause.lhs, spec, spec.filter_attributes)
        if clause.rhs is None:
            if entity not in spec.null_check_entities:
                raise SearchError(spec.null_check_refusal(entity, key))
            read.append((entity, key, clause.op, None))
        else:
            read.append((entity, key, clause.op, _value(entity, key, clause.rhs, spec)))

    comparisons = []
    for entity, key, op, value in read:
        canonical = spec.attribute_aliases.get(key, key) if entity == "attribute" else key
        rule = spec.comparators[spec.field_class(entity, canonical)]
        if op not in rule.allowed:
            raise SearchError(rule.refusal(op))
        comparisons.append(Comparison(entity, canonical, op, value))
    return tuple(comparisons)


# ---------------------------------------------------------------------------------------------
# order_by


def _parse_order_clause(clause: str, spec: SearchSpec) -> OrderKey:
    unparsable = SearchError(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    atoms = tokenize(clause)
    if not atoms:
        raise unparsable
    head = atoms[0]
    if not (head.kind in ("ident", "dquote") or (head.kind == "word" and not head.keyword)):
        raise unparsable
    ascending = True
    rest = atoms[1:]
    if rest:
        if len(rest) != 2 or rest[0].kind != "ws" or rest[1].kind != "word" or rest[1].keyword:
            raise unparsable
        direction = rest[1].text.upper()
        if direction not in _DIRECTIONS:
            raise SearchError(f"Invalid ordering key in order_by clause '{clause}'.")
        ascending = direction == "ASC"
    entity, key = _resolve_identifier(head, spec, spec.order_attributes)
    if entity not in spec.order_entities:
        raise SearchError(spec.order_entity_refusal(entity))
    if entity == "attribute":
        key = spec.attribute_aliases.get(key, key)
    return OrderKey(entity, key, ascending)


def parse_order_by(clauses: Sequence[str] | None, spec: SearchSpec) -> tuple[OrderKey, ...]:
    """Parse ``"<identifier> [ASC|DESC]"`` clauses; a repeated field is refused for runs and
    dropped (it could never reorder anything) for kinds where MLflow allows it."""
    keys: list[OrderKey] = []
    seen: set[tuple[Entity, str]] = set()
    for clause in clauses or ():
        key = _parse_order_clause(clause, spec)
        if (key.entity, key.key) in seen:
            if spec.reject_duplicate_order_keys:
                raise SearchError(f"`order_by` contains duplicate fields: {list(clauses or ())}")
            continue
        seen.add((key.entity, key.key))
        keys.append(key)
    return tuple(keys)
