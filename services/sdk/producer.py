"""A Kafka producer for synchronous training code: an aiokafka producer on a background thread.

Idempotent, acks=all, batching with linger and compression. Memory is bounded: at most
``max_in_flight`` records are queued or unacknowledged; `send` blocks beyond that (backpressure)
instead of buffering without limit. `flush` returns once every record sent so far is durable in
Kafka, and raises if any could not be delivered.

Records cross to the producer's thread through a queue, and the thread is woken once per
non-empty queue rather than once per record: a wake-up costs a system call and a hand-over of the
GIL, which for a training loop producing records faster than Kafka takes them was most of the
producer's own CPU.

While a producer is open, the interpreter's GIL switch interval is 0.5 ms instead of 5 (a
process-wide setting, restored when the last producer closes; ``switch_interval=None`` leaves it
alone). The producer's thread gives up the GIL at every system call of its event loop, and a
training loop running Python flat out then kept it for the whole 5 ms each time: the first
records of a run reached Kafka ~0.45 s after they were logged, and 1,000,000 points were
queryable 1.1-1.4 s after the flush. With 0.5 ms: 40-80 ms and 0.5-0.7 s.

The default codec is snappy. aiokafka compresses lz4 at level 9 (LZ4 HC) with no setting to change
it: ~50 MB/s here, 0.8 CPU-s per million metric points, against ~0.1 for snappy at 2.4x (lz4 HC
2.9x); see docs/benchmarks/profile-notes.md.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any

from aiokafka import AIOKafkaProducer

from services.log.base import partition_for


class DeliveryError(RuntimeError):
    """Records could not be delivered to Kafka; the message says how many and why."""


SWITCH_INTERVAL = 0.0005
"""The GIL switch interval (seconds) while a producer is open (see the module docstring)."""


class _SwitchInterval:
    """The process's GIL switch interval, lowered while any producer that asked is open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0.0

    def acquire(self, interval: float) -> None:
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
            self._users += 1
            sys.setswitchinterval(min(interval, sys.getswitchinterval()))

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._saved)


_switch_interval = _SwitchInterval()


class BackgroundProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        linger_ms: int = 20,
        compression: str | None = "snappy",
        max_in_flight: int = 2000,
        max_batch_bytes: int = 1024 * 1024,
        switch_interval: float | None = SWITCH_INTERVAL,
    ) -> None:
        self._settings: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "compression_type": compression,
            "max_batch_size": max_batch_bytes,
            "max_request_size": 8 * 1024 * 1024,
            "client_id": "ledgerflow-sdk",
        }
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._errors: list[BaseException] = []
        self._pending = 0  # sent and not yet acknowledged (or failed)
        self._idle = threading.Condition()  # guards _pending, _queue and _draining
        self._queue: deque[tuple[str, bytes, bytes, int]] = deque()
        self._draining = False  # a drain is scheduled or running on the producer's thread
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps tasks weakly
        self._loop = asyncio.new_event_loop()
        self._producer: AIOKafkaProducer | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="ledgerflow-kafka"
        )
        self._thread.start()
        self._switch_interval = switch_interval
        if switch_interval is not None:
            _switch_interval.acquire(switch_interval)
        try:
            self._call(self._start()).result(timeout=60)
        except BaseException:
            self._stop_thread()
            raise

    def _call(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    async def _start(self) -> None:
        self._producer = AIOKafkaProducer(**self._settings)
        await self._producer.start()

    def send(self, topic: str, key: bytes, value: bytes, partitions: int) -> None:
        """Queue one record; blocks while ``max_in_flight`` records are undelivered."""
        self._raise_errors()
        self._slots.acquire()
        with self._idle:
            self._pending += 1
            self._queue.append((topic, key, value, partition_for(key, partitions)))
            if self._draining:
                return
            self._draining = True
        self._loop.call_soon_threadsafe(self._start_draining)

    def _start_draining(self) -> None:
        self._drainer = self._loop.create_task(self._drain())

    async def _drain(self) -> None:
        """Hand every queued record to aiokafka, in order, until the queue is empty."""
        while True:
            with self._idle:
                if not self._queue:
                    self._draining = False
                    return
                records = list(self._queue)
                self._queue.clear()
            for topic, key, value, partition in records:
                await self._send(topic, key, value, partition)

    async def _send(self, topic: str, key: bytes, value: bytes, partition: int) -> None:
        assert self._producer is not None
        try:
            delivery = await self._producer.send(topic, value, key=key, partition=partition)
        except BaseException as err:  # reported by the next send() or flush()
            self._done(err)
            return
        delivery.add_done_callback(lambda f: self._done(f.exception()))

    def _done(self, error: BaseException | None) -> None:
        if error is not None:
            self._errors.append(error)
        self._slots.release()
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def _raise_errors(self) -> None:
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError(f"{len(errors)} record(s) not delivered: {errors[0]!r}")

    def flush(self, timeout: float = 120.0) -> None:
        """Block until every record sent so far is acknowledged by Kafka."""
        self._call(self._flush()).result(timeout=timeout)
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise DeliveryError(f"{self._pending} record(s) unacknowledged after {timeout}s")
        self._raise_errors()

    async def _flush(self) -> None:
        assert self._producer is not None
        await self._producer.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                if self._producer is not None:
                    self._call(self._producer.stop()).result(timeout=60)
            finally:
                self._stop_thread()

    def _stop_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if self._switch_interval is not None:
            self._switch_interval = None
            _switch_interval.release()
