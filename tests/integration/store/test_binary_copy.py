"""binary_copy against real PostgreSQL: what goes in by COPY comes back out, bit for bit."""

from __future__ import annotations

import math
import struct

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.store import binary_copy

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
TEXT = st.none() | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
COLUMNS = ("id", "big", "label", "longs", "doubles")


def bits(values: list[float]) -> list[bytes]:
    """Doubles compared by their bytes: NaN equals NaN, and -0.0 differs from 0.0."""
    return [struct.pack(">d", v) for v in values]


@pytest.fixture
async def conn(pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TEMP TABLE copied (id int, big bigint, label text, longs bigint[], "
            "doubles float8[])"
        )
        yield conn


def encoded(row: tuple) -> tuple[bytes, ...]:
    id_, big, label, longs, doubles = row
    return (
        binary_copy.int4(id_),
        binary_copy.int8(big),
        binary_copy.text(label),
        binary_copy.int8_array(longs),
        binary_copy.float8_array(doubles),
    )


async def copied_back(conn: asyncpg.Connection, rows: list[tuple]) -> list[asyncpg.Record]:
    await conn.execute("TRUNCATE copied")
    data = binary_copy.copy_data(encoded(row) for row in rows)
    await conn.copy_to_table("copied", source=memoryview(data), columns=COLUMNS, format="binary")
    return await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM copied ORDER BY id")


async def test_edge_values_round_trip(conn: asyncpg.Connection) -> None:
    extremes = [-(2**63), -1, 0, 1, 2**63 - 1]
    specials = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308]
    rows = [
        (1, 2**63 - 1, None, extremes, specials),
        (2, -(2**63), "ünïcode ✓", [], []),
        (3, 0, "", [7], [0.5]),
    ]
    back = await copied_back(conn, rows)
    assert [(r["id"], r["big"], r["label"], r["longs"]) for r in back] == [
        (1, 2**63 - 1, None, extremes),
        (2, -(2**63), "ünïcode ✓", []),
        (3, 0, "", [7]),
    ]
    assert [bits(r["doubles"]) for r in back] == [bits(row[4]) for row in rows]
    # PostgreSQL sees real one-dimensional arrays, indexed from 1
    assert await conn.fetchval("SELECT array_dims(longs) FROM copied WHERE id = 1") == "[1:5]"
    assert await conn.fetchval("SELECT doubles[4]::text FROM copied WHERE id = 1") == "-0"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(INT64, TEXT, st.lists(INT64, max_size=50), st.lists(FLOATS, max_size=50)),
        min_size=1,
        max_size=5,
    )
)
async def test_any_rows_round_trip(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    numbered = [(i, *row) for i, row in enumerate(rows)]
    back = await copied_back(conn, numbered)
    assert [(r["big"], r["label"], r["longs"]) for r in back] == [row[1:4] for row in numbered]
    assert [bits(r["doubles"]) for r in back] == [bits(row[4]) for row in numbered]
