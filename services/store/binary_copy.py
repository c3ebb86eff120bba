"""PostgreSQL's binary COPY format, for rows whose columns are scalars and numeric arrays.

asyncpg's own encoder (``copy_records_to_table``) checks every array element in Python, ~0.4 µs
each: for metric chunks that is more CPU than PostgreSQL spends storing them. Here an array is
packed by the ``array`` module and interleaved with its per-element length words by strided
slice assignment, ~40 ns a value, most of it converting the Python list. Feed the result to
``Connection.copy_to_table(..., source=memoryview(data), format="binary")`` (as a memoryview:
asyncpg would take plain bytes for a file name).
See https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4 for the format.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no OIDs, no header extension
_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_INT8_OID = 20
_FLOAT8_OID = 701
_LENGTH_WORDS = array("I", struct.pack(">i", 8))  # every element is 8 bytes (int8, float8)
assert _LENGTH_WORDS.itemsize == 4


def int8(value: int) -> bytes:
    return struct.pack(">iq", 8, value)


def int4(value: int) -> bytes:
    return struct.pack(">ii", 4, value)


def text(value: str | None) -> bytes:
    if value is None:
        return _NULL
    data = value.encode()
    return struct.pack(">i", len(data)) + data


def int8_array(values: Sequence[int]) -> bytes:
    return _array(array("q", values), _INT8_OID)


def float8_array(values: Sequence[float]) -> bytes:
    return _array(array("d", values), _FLOAT8_OID)


def _array(packed: array[int] | array[float], element_oid: int) -> bytes:
    """A one-dimensional array without NULLs: header, then (length word, value) per element."""
    count = len(packed)
    if count == 0:
        empty = struct.pack(">iii", 0, 0, element_oid)
        return struct.pack(">i", len(empty)) + empty
    if sys.byteorder == "little":
        packed.byteswap()  # to network order
    # As 32-bit words, each element is (length word, high half, low half): three strided copies
    # of words build the body, the bytes of each word staying in the order they were in.
    halves = array("I")
    halves.frombytes(packed.tobytes())
    body = array("I", bytes(12 * count))
    body[0::3] = _LENGTH_WORDS * count
    body[1::3] = halves[0::2]
    body[2::3] = halves[1::2]
    header = struct.pack(">iiiiii", 20 + 12 * count, 1, 0, element_oid, count, 1)
    return header + body.tobytes()


def copy_data(rows: Iterable[Sequence[bytes]]) -> bytes:
    """The whole COPY stream: signature, each row's field count and encoded fields, trailer."""
    parts = [_SIGNATURE]
    for row in rows:
        parts.append(struct.pack(">h", len(row)))
        parts.extend(row)
    parts.append(_TRAILER)
    return b"".join(parts)
