"""SQL fragments shared by the search compilers: ``$n`` parameters and typed comparisons."""

from __future__ import annotations

import math
from typing import Any

from services.search.grammar import Value

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class Params:
    """Collects asyncpg ``$n`` arguments; SQL text never holds a caller's value."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


def _constant(column: str, holds: bool) -> str:
    # A comparison decided without looking at the value still never matches a NULL column.
    return f"{column} IS NOT NULL" if holds else "false"


def int_comparison(column: str, op: str, value: Value, params: Params) -> str:
    """``column op value`` for a bigint column and a numeric literal, exactly as arithmetic says
    (``start_time > 1.5`` means ``>= 2``), kept as an integer comparison an index can serve."""
    assert isinstance(value, int | float)
    if isinstance(value, float):
        if math.isinf(value):
            above = value > 0  # the bound lies above every integer
            holds = {"=": False, "!=": True, "<": above, "<=": above, ">": not above}
            return _constant(column, holds.get(op, not above))
        if not value.is_integer():
            if op in ("=", "!="):
                return _constant(column, op == "!=")
            if op in (">", ">="):
                op, value = ">=", math.ceil(value)
            else:
                op, value = "<=", math.floor(value)
        value = int(value)
    if value > _INT64_MAX or value < _INT64_MIN:
        above = value > _INT64_MAX
        holds = {"=": False, "!=": True, "<": above, "<=": above, ">": not above}
        return _constant(column, holds.get(op, not above))
    return f"{column} {op} {params.add(value, 'bigint')}"


def like_pattern(pattern: str) -> str:
    """A LIKE pattern PostgreSQL accepts: a lone trailing backslash (its escape character)
    would be an error there, so it is taken literally."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return pattern + "\\" if trailing % 2 else pattern


def text_comparison(column: str, op: str, value: Value, params: Params) -> str:
    """``= != LIKE ILIKE IN NOT IN`` on a text column; ``=`` and LIKE are case-sensitive."""
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        values = params.add(list(value), "text[]")
        return f"{column} = ANY({values})" if op == "IN" else f"{column} <> ALL({values})"
    assert isinstance(value, str)
    if op in ("LIKE", "ILIKE"):
        return f"{column} {op} {params.add(like_pattern(value), 'text')}"
    sql_op = {"=": "=", "!=": "<>"}[op]
    return f"{column} {sql_op} {params.add(value, 'text')}"


def metric_comparison(column: str, op: str, value: Value, params: Params) -> str:
    """A float8 comparison where NaN only ever satisfies ``!=``.

    PostgreSQL orders NaN above every number and finds it equal to itself; the literal is never
    NaN (the grammar has no way to write one), so ``=``, ``<`` and ``<=`` already exclude NaN and
    ``!=`` already includes it. ``>`` and ``>=`` get an upper bound below NaN, which keeps the
    whole condition an index range on latest_metrics_by_key.
    """
    assert isinstance(value, float) and not math.isnan(value)
    sql_op = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[op]
    compared = f"{column} {sql_op} {params.add(value, 'float8')}"
    if op in (">", ">="):
        return f"{compared} AND {column} < 'NaN'::float8"
    return compared
