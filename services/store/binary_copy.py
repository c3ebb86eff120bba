"""PostgreSQL's binary COPY format, for rows whose columns are scalars and numeric arrays.

asyncpg's own encoder (``copy_records_to_table``) checks every array element in Python, ~0.4 µs
each: for metric chunks that is more CPU than PostgreSQL spends storing them. Here the values,
as an ``array`` of their type, are interleaved with per-element length words by strided slice
assignment: ~25-35 ns a value from such an array, ~40-60 from a Python list (packed first).
Feed the result to
``Connection.copy_to_table(..., source=memoryview(data), format="binary")`` (as a memoryview:
asyncpg would take plain bytes for a file name).
See https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4 for the format.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no OIDs, no header extension
_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_INT8_OID = 20
_FLOAT8_OID = 701
# An element before its value is filled in: its length word (8 bytes: int8, float8), two zeros.
_ELEMENT_WORDS = array("I", struct.pack(">iii", 8, 0, 0))
assert _ELEMENT_WORDS.itemsize == 4


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
    """An int8[] of a list of ints or of an ``array("q")``."""
    return _array(packed("q", values), _INT8_OID)


def float8_array(values: Sequence[float]) -> bytes:
    """A float8[] of a list of floats or of an ``array("d")``."""
    return _array(packed("d", values), _FLOAT8_OID)


def packed(typecode: str, values: Sequence[Any]) -> array[Any]:
    """The values as an array of ``typecode``: an array of that type as it is, a list packed by
    struct (about twice as fast as the array constructor, which parses element by element)."""
    if isinstance(values, array) and values.typecode == typecode:
        return values
    return array(typecode, struct.pack(f"{len(values)}{typecode}", *values))


def _array(packed: array[Any], element_oid: int) -> bytes:
    """A one-dimensional array without NULLs: header, then (length word, value) per element."""
    count = len(packed)
    if count == 0:
        empty = struct.pack(">iii", 0, 0, element_oid)
        return struct.pack(">i", len(empty)) + empty
    # As 32-bit words, each element is (length word, high half, low half) in network order:
    # the body starts as the length word and two empty words per element, then two strided
    # copies put each value's halves in place. The source array is read, never changed.
    words = array("I", packed.tobytes())
    if sys.byteorder == "little":
        words.byteswap()  # each word to network order; the low half is the first word
        high, low = words[1::2], words[0::2]
    else:
        high, low = words[0::2], words[1::2]
    body = _ELEMENT_WORDS * count
    body[1::3] = high
    body[2::3] = low
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
