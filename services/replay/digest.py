"""Content digests of read-model schemas, compared table by table with a readable diff.

Surrogate keys (run_key, key_id, dataset_key) are assigned by identity sequences, which a
rollback can advance, so two correct projections may number rows differently: every table is
digested in terms of natural keys (run ids, metric names, dataset name and digest) instead.
Metric points are compared through the `metrics` view, point by point: how they are grouped into
`metric_chunks` rows depends on how the events were batched, which a replay does differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from services.replay.schema import quoted

SKIPPED = frozenset({"schema_migrations", "read_model_info", "seen_events", "metric_chunks"})

# surrogate column -> (table it points at, natural-key expression over alias `j`)
_SURROGATES = {
    "run_key": ("runs", "j.run_id"),
    "key_id": ("metric_keys", "j.key"),
    "dataset_key": ("datasets", "j.experiment_id || '/' || j.name || '/' || j.digest"),
}


@dataclass
class TableDigest:
    table: str
    rows: int
    digest: str


@dataclass
class Comparison:
    tables: list[tuple[str, TableDigest | None, TableDigest | None]] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return all(
            a is not None and b is not None and (a.rows, a.digest) == (b.rows, b.digest)
            for _, a, b in self.tables
        )

    def differing(self) -> list[str]:
        return [
            table
            for table, a, b in self.tables
            if a is None or b is None or (a.rows, a.digest) != (b.rows, b.digest)
        ]


async def tables_of(conn: asyncpg.Connection, schema: str) -> list[str]:
    """The tables and views whose content a replay must reproduce."""
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = $1 AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY table_name",
        schema,
    )
    return [r[0] for r in rows if r[0] not in SKIPPED]


async def natural_rows_sql(conn: asyncpg.Connection, schema: str, table: str) -> str:
    """A SELECT of one JSON text per row, with surrogate keys replaced by natural keys."""
    columns = [
        r[0]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            schema,
            table,
        )
    ]
    select: list[str] = []
    joins: list[str] = []
    for column in columns:
        target = _SURROGATES.get(column)
        if target is None:
            select.append(f"t.{quoted(column)}")
            continue
        if target[0] == table:
            continue  # the surrogate itself: meaningless across projections
        alias = f"j{len(joins)}"
        joins.append(
            f"LEFT JOIN {quoted(schema)}.{quoted(target[0])} {alias} "
            f"ON {alias}.{quoted(column)} = t.{quoted(column)}"
        )
        select.append(f"{target[1].replace('j.', alias + '.')} AS {quoted(column)}")
    inner = f"SELECT {', '.join(select)} FROM {quoted(schema)}.{quoted(table)} t {' '.join(joins)}"
    return f"SELECT row_to_json(x)::text AS row FROM ({inner}) x"


async def digest_table(conn: asyncpg.Connection, schema: str, table: str) -> TableDigest:
    rows_sql = await natural_rows_sql(conn, schema, table)
    # Order-independent: the sum of the first 64 bits of each row's md5.
    row = await conn.fetchrow(
        f"SELECT count(*), coalesce(sum(('x' || substr(md5(row), 1, 16))::bit(64)::bigint), 0)"
        f"::text FROM ({rows_sql}) r"
    )
    assert row is not None
    return TableDigest(table, int(row[0]), str(row[1]))


async def compare(
    conn: asyncpg.Connection, live: str, rebuilt: str, samples: int = 5
) -> Comparison:
    result = Comparison()
    live_tables = await tables_of(conn, live)
    rebuilt_tables = await tables_of(conn, rebuilt)
    for table in sorted(set(live_tables) | set(rebuilt_tables)):
        a = await digest_table(conn, live, table) if table in live_tables else None
        b = await digest_table(conn, rebuilt, table) if table in rebuilt_tables else None
        result.tables.append((table, a, b))
        if a is not None and b is not None and (a.rows, a.digest) != (b.rows, b.digest):
            left = await natural_rows_sql(conn, live, table)
            right = await natural_rows_sql(conn, rebuilt, table)
            only_live = await conn.fetch(f"({left}) EXCEPT ALL ({right}) LIMIT {samples}")
            only_rebuilt = await conn.fetch(f"({right}) EXCEPT ALL ({left}) LIMIT {samples}")
            result.samples[table] = [f"- live only: {r[0]}" for r in only_live] + [
                f"+ rebuilt only: {r[0]}" for r in only_rebuilt
            ]
    return result
