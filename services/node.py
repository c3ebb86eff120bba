"""One ledgerflow process's wiring: database pool, event log, publisher, verdicts, projector.

In the embedded default the projector runs inside the server process (one worker per topic);
in cluster mode it runs as the separate faust worker (`ledgerflow projector`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from schemas import SYSTEM_ACTOR, Envelope, ExperimentCreated, new_event
from services.artifacts.factory import open_artifact_store
from services.artifacts.settings import ArtifactSettings
from services.artifacts.store import ArtifactStore
from services.gateway.verdicts import VerdictTimeout, VerdictWaiter
from services.log.base import EventLog
from services.log.factory import open_event_log
from services.log.publisher import EventPublisher
from services.projector.settings import ProjectorSettings
from services.projector.verdict import Verdict
from services.projector.worker import BatchApplier, ProjectorWorker
from services.settings import CoreSettings, KafkaSettings
from services.store.connect import Database, open_database
from services.store.pool import create_pool
from services.store.swaps import SwapWatcher

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


class Node:
    def __init__(
        self,
        core: CoreSettings,
        kafka: KafkaSettings | None = None,
        projector: ProjectorSettings | None = None,
        *,
        run_projector: bool | None = None,
        verdict_timeout: float = 30.0,
        artifacts: ArtifactSettings | None = None,
    ) -> None:
        self.core = core
        self.artifact_settings = artifacts or ArtifactSettings()
        self.kafka = kafka or KafkaSettings()
        self.projector_settings = projector or ProjectorSettings()
        self.run_projector = (
            core.log_backend == "embedded" if run_projector is None else run_projector
        )
        self.verdict_timeout = verdict_timeout
        self._database: Database | None = None
        self._event_log: EventLog | None = None
        self._verdicts: VerdictWaiter | None = None
        self._artifacts: ArtifactStore | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._projector_pool: asyncpg.Pool | None = None
        self._swaps: SwapWatcher | None = None

    @property
    def database(self) -> Database:
        assert self._database is not None, "Node.start() first"
        return self._database

    @property
    def event_log(self) -> EventLog:
        assert self._event_log is not None, "Node.start() first"
        return self._event_log

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store (local directory or S3) the gateway proxies."""
        assert self._artifacts is not None, "Node.start() first"
        return self._artifacts

    async def start(self) -> None:
        self._artifacts = await open_artifact_store(self.artifact_settings, self.core.data_dir)
        self._database = await open_database(self.core)
        self._event_log = await open_event_log(
            self.core, self.kafka, self._database.pool, self._database.dsn
        )
        self.publisher = EventPublisher(self._event_log)
        self._verdicts = VerdictWaiter(self._database.pool, self._database.dsn)
        await self._verdicts.start()
        self._swaps = SwapWatcher(self._database.pool, self._database.dsn)
        await self._swaps.start()
        if self.run_projector:
            self._projector_pool = await create_pool(self._database.dsn, min_size=1, max_size=4)
            applier = BatchApplier(self._projector_pool, self._event_log)
            layout = self._event_log.layout
            max_batch = self.projector_settings.max_batch
            workers = [ProjectorWorker(applier, layout.control, max_batch=max_batch)]
            count = max(1, min(self.projector_settings.data_workers, layout.data_partitions))
            for n in range(count):
                share = list(range(n, layout.data_partitions, count))
                workers.append(
                    ProjectorWorker(applier, layout.data, partitions=share, max_batch=max_batch)
                )
            for worker in workers:
                self._tasks.append(
                    asyncio.create_task(worker.run(self._stop), name=f"projector:{worker.topic}")
                )
        if self.run_projector:
            await self._ensure_default_experiment()
        else:
            # In cluster mode the projector may start later: do not hold up the gateway.
            self._tasks.append(asyncio.create_task(self._ensure_default_experiment()))

    def artifact_location(self, experiment_id: str) -> str:
        return self.artifact_settings.location(experiment_id)

    async def _ensure_default_experiment(self) -> None:
        """Experiment "0" ("Default") exists from the start, created by an event like any other
        (a second gateway's attempt is simply rejected as a duplicate)."""
        pool = self.database.pool
        if await pool.fetchval("SELECT 1 FROM experiments WHERE experiment_id = 0"):
            return
        event = new_event(
            ExperimentCreated(
                experiment_id=DEFAULT_EXPERIMENT_ID,
                name=DEFAULT_EXPERIMENT_NAME,
                artifact_location=self.artifact_location(DEFAULT_EXPERIMENT_ID),
            ),
            actor=SYSTEM_ACTOR,
            source="bootstrap",
        )
        try:
            await self.submit([event])
        except VerdictTimeout:
            log.warning("the default experiment is not projected yet; is the projector running?")

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._verdicts is not None:
            await self._verdicts.close()
        if self._swaps is not None:
            await self._swaps.close()
        if self._projector_pool is not None:
            await self._projector_pool.close()
        if self._event_log is not None:
            await self._event_log.close()
        if self._database is not None:
            await self._database.close()
        if self._artifacts is not None:
            await self._artifacts.close()

    async def submit(
        self, events: Sequence[Envelope], *, wait: bool = True
    ) -> dict[UUID, Verdict] | None:
        """Publish events; with ``wait``, return the projector's verdict on each."""
        assert self._verdicts is not None, "Node.start() first"
        ids = [e.event_id for e in events]
        if not wait:
            await self.publisher.publish(events)
            return None
        self._verdicts.expect(ids)
        try:
            await self.publisher.publish(events)
        except BaseException:
            self._verdicts.forget(ids)
            raise
        return await self._verdicts.wait(ids, self.verdict_timeout)
