"""faust's aiokafka transport with the projector's own fetch wait.

faust builds its consumer with a fixed ``fetch_max_wait_ms`` of 1,500 ms. aiokafka keeps one fetch
in flight per broker, and a partition whose fetched records are not yet consumed is left out of
the next fetch. So when the projector is behind, the fetch that goes out holds only idle
partitions, the broker parks it for the whole wait, and the busy partition cannot be fetched
again until it returns: the projector ran dry for up to 1.5 s at a time during SDK ingest. A short
wait bounds those stalls; an idle projector pays for it with one empty fetch per wait.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as driver


def kafka_transport(fetch_max_wait_ms: int) -> type[driver.Transport]:
    """faust's Kafka transport class, with consumers that wait at most ``fetch_max_wait_ms``."""

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            # faust passes no setting through; aiokafka reads it when start() makes the fetcher.
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class ProjectorConsumer(driver.Consumer):
        def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(driver.Transport):
        Consumer = ProjectorConsumer

    return Transport
