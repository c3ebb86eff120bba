"""Choose the event log from configuration: the embedded table, or Kafka."""

from __future__ import annotations

import asyncpg

from services.log.base import EventLog
from services.log.embedded import EmbeddedEventLog
from services.log.kafka import KafkaEventLog
from services.settings import CoreSettings, KafkaSettings


async def open_event_log(
    core: CoreSettings, kafka: KafkaSettings, pool: asyncpg.Pool, dsn: str
) -> EventLog:
    event_log: EventLog
    if core.log_backend == "kafka":
        event_log = KafkaEventLog(kafka, core.layout())
    else:
        event_log = EmbeddedEventLog(pool, dsn, core.layout())
    await event_log.start()
    return event_log
