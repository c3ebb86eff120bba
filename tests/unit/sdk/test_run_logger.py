"""How the native SDK's RunLogger cuts points into events: at most 1,000 points each, in the
order they were logged, whether they come one by one or a dict at a time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas import MetricsLogged, Payload
from services.sdk.client import RunLogger


class Published:
    """Stands in for the client's publish: collects the payloads instead of sending them."""

    def __init__(self) -> None:
        self.payloads: list[Payload] = []

    def publish(self, payload: Payload) -> None:
        self.payloads.append(payload)


def points_of(payloads: list[Payload]) -> list[tuple[str, float, int, int]]:
    points = []
    for payload in payloads:
        assert isinstance(payload, MetricsLogged)
        assert len(payload.keys) <= 1000
        points.extend(
            zip(payload.keys, payload.values, payload.timestamps, payload.steps, strict=True)
        )
    return points


@given(
    st.lists(
        st.one_of(
            st.dictionaries(st.sampled_from([f"k{i}" for i in range(40)]), st.floats(0, 1)),
            st.tuples(st.sampled_from(["solo", "other"]), st.integers(0, 9)),
        ),
        max_size=120,
    )
)
def test_points_come_out_in_order_in_events_of_at_most_1000(calls: list) -> None:
    sink = Published()
    run = RunLogger(sink, "r" * 32)  # type: ignore[arg-type]
    expected = []
    for step, call in enumerate(calls):
        if isinstance(call, dict):
            run.log_metrics(call, step=step, timestamp=1000 + step)
            expected += [(key, value, 1000 + step, step) for key, value in call.items()]
        else:
            key, value = call
            run.log_metric(key, value, step=step, timestamp=1000 + step)
            expected.append((key, float(value), 1000 + step, step))
    run._publish_points()
    assert points_of(sink.payloads) == expected
    # every event but the last is full
    assert all(len(p.keys) == 1000 for p in sink.payloads[:-1])  # type: ignore[attr-defined]


def test_a_dict_that_crosses_the_event_limit_is_split_there() -> None:
    sink = Published()
    run = RunLogger(sink, "r" * 32)  # type: ignore[arg-type]
    keys = [f"k{i}" for i in range(30)]
    for step in range(40):  # 1,200 points
        run.log_metrics(dict.fromkeys(keys, float(step)), step=step, timestamp=5)
    assert [len(p.keys) for p in sink.payloads] == [1000]  # type: ignore[attr-defined]
    run._publish_points()
    assert [len(p.keys) for p in sink.payloads] == [1000, 200]  # type: ignore[attr-defined]
    assert sink.payloads[1].keys[0] == "k10"  # type: ignore[attr-defined]
    assert sink.payloads[1].steps[0] == 33  # type: ignore[attr-defined]
