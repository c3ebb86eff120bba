"""The faust projector's Kafka consumer is built with the projector's fetch wait, not faust's."""

from __future__ import annotations

from pathlib import Path

from services.projector.app import create_app
from services.projector.settings import ProjectorSettings
from services.settings import CoreSettings, KafkaSettings


async def test_the_worker_consumer_waits_at_most_the_setting(tmp_path: Path) -> None:
    core = CoreSettings(data_dir=str(tmp_path), topic_prefix="t")
    app = create_app(core, KafkaSettings(), ProjectorSettings(fetch_max_wait_ms=37))
    # faust's own factory builds it (nothing connects until start), with one setting changed.
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 37  # faust's own would be 1,500
        assert consumer._group_id == "t-projector"
        assert consumer._enable_auto_commit is False
    finally:
        await consumer.stop()
