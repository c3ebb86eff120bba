"""The faust projector's Kafka consumer is built with the projector's fetch wait, not faust's."""

from __future__ import annotations

from pathlib import Path

from faust.types import TP

from services.projector.app import create_app
from services.projector.settings import ProjectorSettings
from services.projector.transport import fetch_wait, records_wait
from services.settings import CoreSettings, KafkaSettings


async def test_the_worker_consumer_waits_at_most_the_setting(tmp_path: Path) -> None:
    core = CoreSettings(data_dir=str(tmp_path), topic_prefix="t")
    app = create_app(core, KafkaSettings(), ProjectorSettings(fetch_max_wait_ms=37))
    # faust's own factory builds it (nothing connects until start), with one setting changed.
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 37  # faust's own would be 1,500
        assert consumer._group_id == "t-projector"
        assert consumer._enable_auto_commit is False
    finally:
        await consumer.stop()


class _State:
    def __init__(self, paused: bool = False, positioned: bool = True) -> None:
        self.paused = paused
        self.has_valid_position = positioned


class _Assignment:
    def __init__(self, **states: _State) -> None:
        self.tps = list(states)
        self._states = states

    def state_value(self, tp: str) -> _State:
        return self._states[tp]


class _Fetcher:
    def __init__(self, records: dict[str, object]) -> None:
        self._records = records


def test_a_fetch_waits_long_only_when_it_holds_every_partition() -> None:
    def wait(records: dict[str, object], **states: _State) -> int:
        return fetch_wait(_Fetcher(records), _Assignment(**states), 50, 1000)

    assert wait({}, a=_State(), b=_State()) == 1000
    assert wait({"a": object()}, a=_State(), b=_State()) == 50  # a's records wait
    assert wait({}, a=_State(), b=_State(paused=True)) == 50  # faust's flow control
    assert wait({}, a=_State(positioned=False), b=_State()) == 50  # offset being reset


def test_faust_waits_for_records_briefly_while_a_partition_is_left_out() -> None:
    assert records_wait(1.0, False, 50) == 1.0  # faust's own wait
    assert records_wait(1.0, True, 50) == 0.05  # a full stream buffer left a partition out
    assert records_wait(0.01, True, 50) == 0.01  # never longer than faust asked


async def test_the_worker_consumer_waits_briefly_while_its_buffer_is_full(
    tmp_path: Path,
) -> None:
    """faust's own consumer of the app: a partition whose stream buffer is full is left out of
    the fetch (``on_buffer_full``), and meanwhile the wait for the others is the busy wait."""
    core = CoreSettings(data_dir=str(tmp_path), topic_prefix="t")
    app = create_app(core, KafkaSettings(), ProjectorSettings(fetch_max_wait_ms=37))
    consumer = app.consumer
    busy, idle = TP("t.data", 0), TP("t.data", 1)
    consumer._active_partitions = {busy, idle}
    waits: list[tuple[set[TP], float]] = []

    async def getmany(active_partitions: set[TP], timeout: float) -> dict[TP, list[object]]:
        waits.append((set(active_partitions), timeout))
        return {}

    consumer._getmany = getmany  # the fetch itself: asked of the broker by the consumer thread
    await consumer._wait_next_records(1.0)
    consumer.on_buffer_full(busy)
    await consumer._wait_next_records(1.0)
    consumer.on_buffer_drop(busy)
    await consumer._wait_next_records(1.0)
    assert waits == [({busy, idle}, 1.0), ({idle}, 0.037), ({busy, idle}, 1.0)]
