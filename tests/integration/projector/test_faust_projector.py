"""The cluster-mode projector (faust worker over the real Kafka broker), killed mid-stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from services.log.base import TopicLayout
from services.log.kafka import KafkaEventLog
from services.log.publisher import EventPublisher
from services.settings import KafkaSettings
from tests.integration.projector.conftest import (
    assert_chains_gapless,
    committed_offsets,
    wait_for_audit_rows,
)
from tests.integration.projector.test_audit_tamper import run_cli
from tests.samples import mixed_events

TOTAL = 10_000


def start_projector(
    db_dsn: str, kafka: KafkaSettings, layout: TopicLayout, workdir: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEDGERFLOW_LOG_BACKEND": "kafka",
        "LEDGERFLOW_DATABASE_URL": db_dsn,
        "LEDGERFLOW_DATA_DIR": str(workdir),
        "LEDGERFLOW_TOPIC_PREFIX": layout.prefix,
        "LEDGERFLOW_DATA_PARTITIONS": str(layout.data_partitions),
        "LEDGERFLOW_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "LEDGERFLOW_PROJECTOR_MAX_BATCH": "100",
    }
    log = (workdir / "projector.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "projector"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.kafka
async def test_faust_projector_exactly_once_across_a_kill(
    pool: asyncpg.Pool,
    db_dsn: str,
    kafka_settings: KafkaSettings,
    layout: TopicLayout,
    tmp_path: Path,
) -> None:
    event_log = KafkaEventLog(kafka_settings, layout)
    await event_log.start()
    publisher = EventPublisher(event_log)
    events = mixed_events(TOTAL, seed=11)
    try:
        for start in range(0, TOTAL // 2, 1000):
            await publisher.publish(events[start : start + 1000])
        projector = start_projector(db_dsn, kafka_settings, layout, tmp_path)
        try:
            for start in range(TOTAL // 2, TOTAL, 1000):
                await publisher.publish(events[start : start + 1000])
            await wait_for_audit_rows(pool, 2_000, timeout=180)
            projector.send_signal(signal.SIGKILL)  # no shutdown, no offset commit
            projector.wait(timeout=30)
        finally:
            if projector.poll() is None:
                projector.kill()
        crashed_at = await pool.fetchval("SELECT count(*) FROM audit_log")
        assert crashed_at < TOTAL, "the kill must happen mid-stream"

        projector = start_projector(db_dsn, kafka_settings, layout, tmp_path)
        try:
            await wait_for_audit_rows(pool, TOTAL, timeout=180)
            # Give a redelivery the chance to show up as a duplicate before we count.
            await asyncio.sleep(0)
        finally:
            projector.send_signal(signal.SIGTERM)
            try:
                projector.wait(timeout=60)
            except subprocess.TimeoutExpired:
                projector.kill()
        # Events are acked after their batch commits, and a clean stop commits the acked offsets:
        # Kafka's committed offsets end where the positions stored with the batches end.
        stored = {
            (r["topic"], r["partition"]): r["next_offset"]
            for r in await pool.fetch(
                "SELECT topic, partition, next_offset FROM projector_positions"
            )
        }
        for topic in (layout.control, layout.data):
            committed = await committed_offsets(kafka_settings, f"{layout.prefix}-projector", topic)
            expected = {p: o for (t, p), o in stored.items() if t == topic and o > 0}
            assert {p: o for p, o in committed.items() if o > 0} == expected, topic
    finally:
        await event_log.close()

    assert await pool.fetchval("SELECT count(*) FROM audit_log") == TOTAL
    await assert_chains_gapless(pool, TOTAL)
    ids = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM audit_log")}
    assert ids == {e.event_id for e in events}
    result = run_cli(db_dsn, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"intact: {TOTAL} links" in result.stdout
