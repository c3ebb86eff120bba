"""The registry's change feed (the seam for webhooks) yields accepted changes in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from schemas import (
    Actor,
    ModelAliasSet,
    ModelVersionCreated,
    RegisteredModelCreated,
    new_event,
)
from services.node import Node
from services.registry.changes import registry_changes
from services.settings import CoreSettings

ACTOR = Actor(name="feed-test", kind="self_reported")


async def test_feed_yields_accepted_registry_changes(db_dsn: str, tmp_path: Path) -> None:
    node = Node(CoreSettings(data_dir=tmp_path, database_url=SecretStr(db_dsn)))
    await node.start()
    feed = registry_changes(db_dsn, poll_seconds=30)
    try:
        await node.submit([new_event(RegisteredModelCreated(name="m"), actor=ACTOR, source="t")])
        first = await asyncio.wait_for(anext(feed), 30)
        assert first.event.type == "registered_model.created"
        # a refused change is not a change: an alias to a version that does not exist
        await node.submit(
            [
                new_event(ModelAliasSet(name="m", alias="a", version=9), actor=ACTOR, source="t"),
                new_event(
                    ModelVersionCreated(name="m", source="s3://b/m"), actor=ACTOR, source="t"
                ),
            ]
        )
        second = await asyncio.wait_for(anext(feed), 30)
        assert second.event.type == "model_version.created"
        assert second.seq > first.seq and second.event.actor.name == "feed-test"
    finally:
        await feed.aclose()
        await node.close()
