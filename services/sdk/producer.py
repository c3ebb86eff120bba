"""A Kafka producer for synchronous training code: librdkafka (confluent-kafka) underneath.

Idempotent, acks=all, batching with linger and compression. Memory is bounded: at most
``max_in_flight`` records (and ``max_buffer_kbytes``) are queued or unacknowledged; `send`
blocks beyond that (backpressure) instead of buffering without limit. `flush` returns once every
record sent so far is durable in Kafka, and raises if any could not be delivered.

librdkafka batches, compresses and talks to the brokers on threads of its own, in C, without the
GIL. The SDK's producer used to be aiokafka on a Python thread of its own: a training loop running
Python flat out kept the GIL from it (each of the loop's brief releases, such as the system call
behind a fresh event id, reset the interpreter's switch timer), so in some runs nothing reached
Kafka until the loop paused, ~0.4 s after the first point of a million. A `send` is now a copy
into librdkafka's queue, and records leave while the loop runs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from services.log.base import partition_for

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """Records could not be delivered to Kafka; the message says how many and why."""


BACKPRESSURE_POLL_S = 0.05
"""How long `send` waits for deliveries at a time while the queue is full."""


@dataclass(frozen=True)
class ProducerSettings:
    """How the SDK's producer batches and bounds what it holds."""

    linger_ms: int = 20
    """How long a record waits for others to share its batch."""
    compression: str | None = "snappy"
    """``snappy``, ``lz4``, ``zstd``, ``gzip`` or None."""
    max_in_flight: int = 2000
    """Records queued or unacknowledged before `send` blocks (backpressure)."""
    max_buffer_kbytes: int = 128 * 1024
    """The same bound in kilobytes of record data."""
    max_batch_bytes: int = 1024 * 1024
    """The largest batch of records sent to one partition in one request."""
    connect_timeout: float = 60.0
    """Seconds to wait for a broker to answer when the producer is created."""


class EventProducer:
    def __init__(self, bootstrap_servers: str, settings: ProducerSettings | None = None) -> None:
        settings = settings or ProducerSettings()
        self._errors: list[str] = []
        self._lock = threading.Lock()  # guards _errors (delivery reports come from any poller)
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": settings.linger_ms,
                "compression.type": settings.compression or "none",
                "batch.size": settings.max_batch_bytes,
                "message.max.bytes": 8 * 1024 * 1024,
                "queue.buffering.max.messages": settings.max_in_flight,
                "queue.buffering.max.kbytes": settings.max_buffer_kbytes,
                "client.id": "ledgerflow-sdk",
                "logger": log,  # librdkafka's own log, served with the delivery reports
            }
        )
        try:
            # Fail now, not at the first flush, when no broker answers.
            self._producer.list_topics(timeout=settings.connect_timeout)
        except KafkaException as err:
            self._producer.close()
            raise DeliveryError(f"no Kafka broker at {bootstrap_servers}: {err}") from None

    def send(self, topic: str, key: bytes, value: bytes, partitions: int) -> None:
        """Queue one record; blocks while ``max_in_flight`` records are undelivered. Raises
        DeliveryError for a record Kafka would refuse outright (too big), and for records sent
        earlier that could not be delivered."""
        self._raise_errors()
        partition = partition_for(key, partitions)
        while True:
            try:
                self._producer.produce(
                    topic, value, key, partition=partition, on_delivery=self._delivered
                )
                break
            except BufferError:  # the queue is full: wait for deliveries (backpressure)
                self._producer.poll(BACKPRESSURE_POLL_S)
            except KafkaException as err:
                raise DeliveryError(f"record not accepted: {err.args[0]}") from None
        self._producer.poll(0)  # serve delivery reports

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            with self._lock:
                self._errors.append(str(error))

    def _raise_errors(self) -> None:
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise DeliveryError(f"{len(errors)} record(s) not delivered: {errors[0]}")

    def flush(self, timeout: float = 120.0) -> None:
        """Block until every record sent so far is acknowledged by Kafka."""
        remaining = self._producer.flush(timeout)
        self._raise_errors()
        if remaining:
            raise DeliveryError(f"{remaining} record(s) unacknowledged after {timeout}s")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close()
