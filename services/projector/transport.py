"""faust's aiokafka transport with the projector's own fetch waits.

faust builds its consumer with a fixed ``fetch_max_wait_ms`` of 1,500 ms. aiokafka keeps one fetch
in flight per broker, and a partition whose fetched records are not yet consumed is left out of
the next fetch. So when the projector is behind, the fetch that goes out holds only idle
partitions, the broker parks it for the whole wait, and the busy partition cannot be fetched
again until it returns: the projector ran dry for up to 1.5 s at a time during SDK ingest. A short
wait bounds those stalls.

A short wait costs an idle projector one empty fetch per wait, and the broker's CPU for each: at
50 ms, ~0.08 of a core on the broker for a cluster doing nothing. But the stall needs a partition
left out. A fetch that holds every assigned partition returns as soon as any of them gets a
record, so its wait delays nothing. Such a fetch waits ``idle_wait_ms``; a fetch that leaves out
a partition (records not yet consumed, paused by faust's flow control, or without a position)
waits ``busy_wait_ms``.

faust has a wait of its own: it asks the fetcher for records of its *active* partitions with a
fixed 1 s timeout. A partition whose stream buffer is full (the projector is behind) is not
active until the buffer has drained to 40%, and a wait that began while it was out lasted its
full second even after it was back, however many records it had waiting: during SDK ingest the
projector applied what its buffer held and then sat idle for ~0.5 s at a time. So while a
partition is out, that wait is ``busy_wait_ms`` too.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as driver


def fetch_wait(fetcher: Any, assignment: Any, busy_wait_ms: int, idle_wait_ms: int) -> int:
    """The wait for the fetch aiokafka's ``fetcher`` is about to plan for ``assignment``: idle
    only if the fetch will hold every assigned partition."""
    if fetcher._records:  # fetched records not yet consumed: their partitions are left out
        return busy_wait_ms
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        if state.paused or not state.has_valid_position:
            return busy_wait_ms
    return idle_wait_ms


def adapt_fetch_wait(fetcher: Any, busy_wait_ms: int, idle_wait_ms: int) -> None:
    """Have aiokafka's ``fetcher`` choose its wait before planning each fetch (it reads
    ``_fetch_max_wait_ms`` when it builds the requests, in ``_get_actions_per_node``)."""
    plan = fetcher._get_actions_per_node

    def planned(assignment: Any) -> Any:
        fetcher._fetch_max_wait_ms = fetch_wait(fetcher, assignment, busy_wait_ms, idle_wait_ms)
        return plan(assignment)

    fetcher._get_actions_per_node = planned


def records_wait(timeout: float, partition_left_out: bool, busy_wait_ms: int) -> float:
    """Seconds faust may wait for records of its active partitions: its own ``timeout``, but
    no longer than the busy wait while a partition is left out for its full stream buffer."""
    return min(timeout, busy_wait_ms / 1000) if partition_left_out else timeout


def kafka_transport(busy_wait_ms: int, idle_wait_ms: int) -> type[driver.Transport]:
    """faust's Kafka transport class, with consumers whose fetches wait at most ``busy_wait_ms``
    while a partition is left out of them, and ``idle_wait_ms`` otherwise."""

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            # faust passes no setting through; aiokafka reads it when start() makes the fetcher.
            consumer._fetch_max_wait_ms = busy_wait_ms
            start = consumer.start

            async def start_adapted() -> None:
                await start()
                adapt_fetch_wait(consumer._fetcher, busy_wait_ms, idle_wait_ms)

            consumer.start = start_adapted
            return consumer

    class ProjectorConsumer(driver.Consumer):
        def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def _wait_next_records(self, timeout: float) -> Any:
            return await super()._wait_next_records(
                records_wait(timeout, bool(self._buffered_partitions), busy_wait_ms)
            )

    class Transport(driver.Transport):
        Consumer = ProjectorConsumer

    return Transport
