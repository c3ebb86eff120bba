"""Keyset pagination shared by every search: sort keys, opaque page tokens, the "after" predicate.

MLflow pages with OFFSET, so a run created or deleted between two requests shifts every later
page (rows are skipped or repeated). We page by key instead: a token holds the last row's
sort-key values, and the next page starts strictly after that row in the same total order (the
final key is always unique). Rows that exist throughout a paging session are therefore returned
exactly once, whatever arrives or leaves meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from services.search.errors import SearchError
from services.search.sqltext import Params

KeyKind = Literal["int", "float", "text", "bool"]
_CAST: dict[KeyKind, str] = {"int": "bigint", "float": "float8", "text": "text", "bool": "boolean"}
_TOKEN_VERSION = 1


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term. ``sql`` is the expression (text keys carry ``COLLATE "C"``, so the
    order is byte order whatever the database's collation); NULLs always sort last."""

    sql: str
    descending: bool
    nullable: bool
    kind: KeyKind

    def order_sql(self) -> str:
        direction = " DESC" if self.descending else ""
        # ASC already puts NULLs last in PostgreSQL; DESC needs saying so.
        nulls = " NULLS LAST" if self.nullable and self.descending else ""
        return f"{self.sql}{direction}{nulls}"


def order_by_sql(keys: Sequence[SortKey]) -> str:
    return ", ".join(key.order_sql() for key in keys)


def select_sql(keys: Sequence[SortKey]) -> str:
    return ", ".join(f"{key.sql} AS sk{i}" for i, key in enumerate(keys))


def after_sql(keys: Sequence[SortKey], last: Sequence[Any], params: Params) -> str:
    """The rows strictly after ``last`` in the order of ``keys``: the lexicographic
    ``k0 > v0 OR (k0 = v0 AND (k1 > v1 OR (...)))``, with ">" meaning "later in this key's
    direction" and NULL sorting after every value."""
    clause = "false"
    for key, value in reversed(list(zip(keys, last, strict=True))):
        later = "<" if key.descending else ">"
        if value is None:
            beyond = "false"  # nothing sorts after NULL
            same = f"{key.sql} IS NULL"
        else:
            placeholder = params.add(value, _CAST[key.kind])
            beyond = f"{key.sql} {later} {placeholder}"
            if key.nullable:
                beyond = f"({beyond} OR {key.sql} IS NULL)"
            same = f"{key.sql} = {placeholder}"
        if clause == "false":
            clause = beyond
        elif beyond == "false":
            clause = f"({same} AND {clause})"
        else:
            clause = f"({beyond} OR ({same} AND {clause}))"
    if keys and last[0] is not None and not keys[0].nullable:
        # The same bound once more as a plain range on the leading key, which an index can use.
        bound = "<=" if keys[0].descending else ">="
        first = params.add(last[0], _CAST[keys[0].kind])
        clause = f"{keys[0].sql} {bound} {first} AND {clause}"
    return clause


def fingerprint(kind: str, query: Mapping[str, Any]) -> str:
    """A short digest of what a search asks for (not its page size), kept in its tokens."""
    canonical = orjson.dumps({"kind": kind, **query}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def _encode_value(value: Any, kind: KeyKind) -> Any:
    # JSON has no infinities; a float travels as its repr, which round-trips exactly.
    return repr(float(value)) if kind == "float" and value is not None else value


_JSON_TYPES: dict[KeyKind, type] = {"int": int, "text": str, "bool": bool}


def _decode_value(raw: Any, kind: KeyKind) -> Any:
    if raw is None:
        return None
    if kind == "float":
        value = float(raw) if isinstance(raw, str) else math.nan
        if math.isnan(value):
            raise ValueError(raw)
        return value
    if type(raw) is not _JSON_TYPES[kind]:  # exact: a JSON true is no bigint
        raise ValueError(raw)
    return raw


def encode_token(query_fingerprint: str, keys: Sequence[SortKey], row: Mapping[str, Any]) -> str:
    values = [_encode_value(row[f"sk{i}"], key.kind) for i, key in enumerate(keys)]
    payload = orjson.dumps({"v": _TOKEN_VERSION, "q": query_fingerprint, "k": values})
    return base64.urlsafe_b64encode(payload).decode("ascii")


def decode_token(token: str, query_fingerprint: str, keys: Sequence[SortKey]) -> list[Any]:
    """The last row's sort-key values from a token this same search issued."""
    try:
        decoded = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SearchError("Invalid page token, could not base64-decode") from None
    try:
        parsed = orjson.loads(decoded)
    except orjson.JSONDecodeError:
        raise SearchError(f"Invalid page token, decoded value={decoded!r}") from None
    if not (
        isinstance(parsed, dict)
        and parsed.get("v") == _TOKEN_VERSION
        and isinstance(parsed.get("k"), list)
        and len(parsed["k"]) == len(keys)
    ):
        raise SearchError(f"Invalid page token, parsed value={parsed}")
    if parsed.get("q") != query_fingerprint:
        raise SearchError(
            "Invalid page token: it was issued for a different search (the experiment IDs, "
            "filter, order_by or view type differ)"
        )
    try:
        return [_decode_value(raw, key.kind) for raw, key in zip(parsed["k"], keys, strict=True)]
    except ValueError:
        raise SearchError(f"Invalid page token, parsed value={parsed}") from None


@dataclass(frozen=True)
class CompiledSearch:
    """One page's query: run ``sql`` with ``args``; it returns up to ``max_results + 1`` rows,
    the extra one only telling that a next page exists."""

    sql: str
    args: list[Any]
    max_results: int
    sort_keys: tuple[SortKey, ...]
    query_fingerprint: str

    def next_page_token(self, last_row: Mapping[str, Any]) -> str:
        """The token for the page after ``last_row`` (the last row handed to the caller)."""
        return encode_token(self.query_fingerprint, self.sort_keys, last_row)

    def page(self, rows: Sequence[Any]) -> tuple[list[Any], str | None]:
        """Split fetched rows into this page and the next page's token (None at the end)."""
        if len(rows) <= self.max_results:
            return list(rows), None
        kept = list(rows[: self.max_results])
        return kept, self.next_page_token(kept[-1])


def check_max_results(max_results: int, too_large: str) -> None:
    if max_results < 1:
        raise SearchError(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be a positive integer"
        )
    if max_results > 50000:
        raise SearchError(too_large)
