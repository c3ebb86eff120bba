"""The cluster-mode projector: a faust-streaming app whose agents feed batches to project_batch.

Exactly-once into PostgreSQL: an agent takes events without acking (a ``noack`` stream) into a
backlog, applies each batch from it in one transaction that also stores the consumed positions,
and acks only after commit. Kafka's committed offsets therefore never run ahead of PostgreSQL;
anything redelivered below the stored position is skipped by project_batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
from faust.types import EventT

from services.log.base import LogRecord
from services.log.kafka import KafkaEventLog
from services.projector.backlog import Backlog
from services.projector.settings import ProjectorSettings
from services.projector.transport import kafka_transport
from services.projector.worker import BatchApplier
from services.settings import CoreSettings, KafkaSettings
from services.store.connect import open_database

log = logging.getLogger(__name__)


class ProjectorRuntime:
    """The pool and the Kafka log, opened once on the worker's first batch."""

    def __init__(self, core: CoreSettings, kafka: KafkaSettings) -> None:
        self.core = core
        self.kafka = kafka
        self._applier: BatchApplier | None = None
        self._lock = asyncio.Lock()

    async def applier(self) -> BatchApplier:
        async with self._lock:
            if self._applier is None:
                database = await open_database(self.core)
                event_log = KafkaEventLog(self.kafka, self.core.layout())
                await event_log.start()
                self._applier = BatchApplier(database.pool, event_log)
            return self._applier

    async def close(self) -> None:
        async with self._lock:
            if self._applier is not None:
                applier, self._applier = self._applier, None
                await applier.event_log.close()
                await applier.pool.close()


def _record(event: Any) -> LogRecord:
    message = event.message
    return LogRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else 0,
    )


def _close_backlog(backlog: Backlog[EventT]) -> Callable[[asyncio.Task[None]], None]:
    """When the applier ends (it retries failed batches, so only a bug or shutdown ends it), the
    agent stops taking events instead of waiting for room forever."""

    def close(applying: asyncio.Task[None]) -> None:
        if applying.cancelled():
            backlog.close(asyncio.CancelledError())
            return
        error = applying.exception()
        backlog.close(error or RuntimeError("the applier returned"))
        if error is not None:
            log.error("the projector's applier failed", exc_info=error)

    return close


def create_app(core: CoreSettings, kafka: KafkaSettings, settings: ProjectorSettings) -> faust.App:
    layout = core.layout()
    datadir = Path(core.data_dir) / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{core.topic_prefix}-projector",
        broker=[f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")],
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        datadir=str(datadir),
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_disable_leader=True,
        broker_commit_interval=1.0,
        # A killed worker's partitions move to the others after this long.
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_seconds / 4),
        # bounded memory: a metrics event holds up to 1,000 points
        stream_buffer_maxsize=settings.max_batch * 2,
        consumer_max_fetch_size=4 * 1024 * 1024,
    )
    app.transport = kafka_transport(settings.fetch_max_wait_ms, settings.idle_fetch_wait_ms)(
        app.conf.broker_consumer, app
    )
    runtime = ProjectorRuntime(core, kafka)

    async def project(stream: faust.StreamT) -> None:
        # Taking from the log and applying run side by side, joined by a backlog: events keep
        # arriving while a transaction is in flight, and the next batch is whatever came.
        backlog: Backlog[EventT] = Backlog(settings.max_batch)

        async def apply_backlog() -> None:
            while True:
                events = await backlog.take(settings.max_batch)
                applier = await runtime.applier()
                await applier.apply([_record(event) for event in events])
                for event in events:  # acked only after commit (see the module docstring)
                    await stream.ack(event)

        applying = asyncio.create_task(apply_backlog())
        applying.add_done_callback(_close_backlog(backlog))
        try:
            # noack() is faust-streaming's manual-ack stream (missing from its type stubs).
            async for event in stream.noack().events():  # type: ignore[attr-defined]
                await backlog.put((event,))
        finally:
            applying.cancel()

    control = app.topic(layout.control, key_type=bytes, value_type=bytes, partitions=1)
    data = app.topic(
        layout.data, key_type=bytes, value_type=bytes, partitions=layout.data_partitions
    )
    app.agent(control, name="project-control", concurrency=1)(project)
    app.agent(data, name="project-data", concurrency=1)(project)

    async def close_runtime(_app: faust.App, **_: Any) -> None:
        await runtime.close()

    app.on_before_shutdown.connect(close_runtime)  # type: ignore[arg-type]

    return app


def run_worker(core: CoreSettings, kafka: KafkaSettings, settings: ProjectorSettings) -> None:
    """Run the faust worker in the foreground until SIGINT/SIGTERM."""
    from faust.worker import Worker

    # Create the topics with their explicit configs before faust subscribes: a broker that
    # auto-creates topics would otherwise make them with its defaults (one partition).
    asyncio.run(KafkaEventLog(kafka, core.layout()).ensure_topics())
    app = create_app(core, kafka, settings)
    worker = Worker(app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
