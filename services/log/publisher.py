"""Publishing envelopes: the stream decides the topic, the aggregate is the partition key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from schemas import Envelope, encode, stream_of
from services.log.base import EventLog, Position


class EventPublisher:
    def __init__(self, event_log: EventLog) -> None:
        self.event_log = event_log

    def topic_of(self, event: Envelope) -> str:
        layout = self.event_log.layout
        return layout.control if stream_of(event.type) == "control" else layout.data

    async def publish(self, events: Sequence[Envelope]) -> list[Position]:
        """Append events, durable on return; events of one aggregate keep their order."""
        by_topic: dict[str, list[int]] = defaultdict(list)
        for index, event in enumerate(events):
            by_topic[self.topic_of(event)].append(index)
        positions: list[Position | None] = [None] * len(events)
        for topic, indexes in by_topic.items():
            landed = await self.event_log.append(
                topic, [(events[i].aggregate.encode(), encode(events[i])) for i in indexes]
            )
            for index, position in zip(indexes, landed, strict=True):
                positions[index] = position
        return [p for p in positions if p is not None]
