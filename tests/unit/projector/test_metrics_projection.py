"""The metrics projection's pure parts: how an event's points are grouped into series (by slices
when the keys follow a pattern, always as point by point would), and the batch digest."""

from __future__ import annotations

import math
import struct
from array import array

from hypothesis import given
from hypothesis import strategies as st

from schemas import MetricsLogged
from services.projector.handlers.metrics import _groups, _latest, batch_digest, packed_points


def naive(labels: list) -> dict:
    positions: dict = {}
    for i, label in enumerate(labels):
        positions.setdefault(label, []).append(i)
    return positions


def grouped(labels: list, groups: list) -> dict:
    positions: dict = {}
    indices = list(range(len(labels)))
    for label, where in groups:
        positions.setdefault(label, []).extend(indices[where])
    return positions


def test_rounds_of_keys_become_one_strided_slice_per_key() -> None:
    labels = ["a", "b", "c"] * 100 + ["a", "b"]
    groups = _groups(labels)
    assert groups == [("a", slice(0, None, 3)), ("b", slice(1, None, 3)), ("c", slice(2, None, 3))]
    assert grouped(labels, groups) == naive(labels)


def test_stretches_of_one_key_become_contiguous_slices() -> None:
    labels = ["a"] * 100 + ["b"] * 100 + ["a"] * 50
    assert _groups(labels) == [("a", slice(0, 100)), ("b", slice(100, 200)), ("a", slice(200, 250))]
    assert _groups(["x"]) == [("x", slice(0, 1))]


def test_no_pattern_is_left_to_the_point_by_point_path() -> None:
    assert _groups(["a", "b", "a", "a", "b", "b", "a", "b", "b", "a"] * 10) is None


@given(st.lists(st.sampled_from("abcd"), min_size=1, max_size=200))
def test_any_labels_group_as_point_by_point(labels: list[str]) -> None:
    groups = _groups(labels)
    if groups is not None:
        assert grouped(labels, groups) == naive(labels)


@given(st.integers(1, 6), st.integers(2, 50), st.integers(0, 5))
def test_any_rounds_group_as_point_by_point(keys: int, rounds: int, extra: int) -> None:
    head = [f"k{i}" for i in range(keys)]
    labels = head * rounds + head[: min(extra, keys - 1)]
    groups = _groups(labels)
    assert groups is not None
    assert grouped(labels, groups) == naive(labels)


def test_a_batch_without_model_ids_has_the_digest_of_empty_model_ids() -> None:
    """The digest identifies a retried batch across projector versions: its bytes must not
    change with how it is computed."""
    columns = {"keys": ["a", "b", "a"], "values": [1.0, 2.0, 3.0], "timestamps": [1, 2, 3]}
    plain = MetricsLogged(run_id="r", steps=[0, 0, 1], **columns)
    empty = MetricsLogged(run_id="r", steps=[0, 0, 1], model_ids=[None, None, None], **columns)
    other = MetricsLogged(run_id="r", steps=[0, 0, 1], model_ids=[None, "m", None], **columns)

    def digest(payload: MetricsLogged) -> bytes:
        return batch_digest(payload, packed_points(payload))

    assert digest(plain) == digest(empty) != digest(other)
    # the digest the projector computed before this shortcut (commit 7e2bca5)
    assert digest(plain).hex() == "b24f2cf577d84e22df711242f4d61896"


@given(
    st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1),
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=True, allow_infinity=True),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_packed_points_are_the_columns_exactly(points: list[tuple[int, int, float]]) -> None:
    steps, timestamps, values = (list(column) for column in zip(*points, strict=True))
    payload = MetricsLogged(
        run_id="r", keys=["k"] * len(points), values=values, timestamps=timestamps, steps=steps
    )
    packed = packed_points(payload)
    assert (packed[0].typecode, packed[1].typecode, packed[2].typecode) == ("q", "q", "d")
    assert packed[0].tolist() == steps
    assert packed[1].tolist() == timestamps
    assert [struct.pack("d", v) for v in packed[2]] == [struct.pack("d", v) for v in values]


def naive_latest(points: list[tuple[int, int, float]]) -> tuple[int, int, float]:
    """Point by point: the max of (step, timestamp, value with NaN as 0), the first of a tie."""
    best = None
    for step, timestamp, value in points:
        rank = (step, timestamp, 0.0 if math.isnan(value) else value)
        if best is None or rank > best[0]:
            best = (rank, (step, timestamp, value))
    assert best is not None
    return best[1]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 2),
            st.sampled_from([0.0, -0.0, 1.5, -2.0, math.nan, math.inf]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_the_latest_value_is_the_point_by_point_one(points: list[tuple[int, int, float]]) -> None:
    steps, timestamps, values = (list(column) for column in zip(*points, strict=True))
    chunk = (array("q", steps), array("q", timestamps), array("d", values))
    ((run_key, key_id, step, timestamp, value, *_),) = _latest({(1, 2, None, None, None): chunk})
    expected = naive_latest(points)
    assert (run_key, key_id, step, timestamp) == (1, 2, *expected[:2])
    assert struct.pack(">d", value) == struct.pack(">d", expected[2])
