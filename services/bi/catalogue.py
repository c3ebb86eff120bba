"""The BI views as the database describes them (columns, types, the comments the migration
wrote), and that description as the Markdown tables of docs/bi.md."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.bi import BI_SCHEMA


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    meaning: str


@dataclass(frozen=True, slots=True)
class View:
    schema: str
    name: str
    meaning: str
    columns: tuple[Column, ...]


async def describe(conn: asyncpg.Connection, schema: str = BI_SCHEMA) -> list[View]:
    """Every view in ``schema`` in the order the migrations created them, its columns in order
    with their SQL types."""
    rows = await conn.fetch(
        """SELECT c.relname AS view, coalesce(obj_description(c.oid, 'pg_class'), '') AS about,
                  a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
                  coalesce(col_description(c.oid, a.attnum), '') AS meaning
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE n.nspname = $1 AND c.relkind = 'v'
            ORDER BY c.oid, a.attnum""",
        schema,
    )
    views: dict[str, tuple[str, list[Column]]] = {}
    for r in rows:
        _, columns = views.setdefault(r["view"], (r["about"], []))
        columns.append(Column(r["column"], r["type"], r["meaning"]))
    return [View(schema, name, about, tuple(cols)) for name, (about, cols) in views.items()]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(views: list[View]) -> str:
    """One section per view: what a row is, then a table of its columns."""
    parts = []
    for view in views:
        lines = [f"### `{view.schema}.{view.name}`", "", _cell(view.meaning), ""]
        lines += ["| Column | Type | Meaning |", "|---|---|---|"]
        lines += [f"| `{c.name}` | `{c.type}` | {_cell(c.meaning)} |" for c in view.columns]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
