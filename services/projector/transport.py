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

    class Transport(driver.Transport):
        Consumer = ProjectorConsumer

    return Transport
