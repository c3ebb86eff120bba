"""Two cluster-mode projectors in one consumer group share the data topic; one is killed mid-stream.

Who projected what comes from PostgreSQL: each projector process connects with its own value of
the custom setting ``lftest.writer`` (passed in its DSN), and a test-only trigger on the audit log
notes, per insert statement, that writer and the partitions and offsets it appended. Each
process's partition assignment comes from the log faust writes for it.
"""

from __future__ import annotations

import re
import signal
import subprocess
from dataclasses import dataclass
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
    wait_until,
)
from tests.integration.projector.test_audit_tamper import run_cli
from tests.integration.projector.test_faust_projector import start_projector
from tests.samples import mixed_events

TOTAL = 10_000
BEFORE_KILL = 5_000  # published while both run; the rest once one of them is dead
CHUNK = 1_000
SESSION_TIMEOUT_SECONDS = 6  # the broker's default group.min.session.timeout.ms
WRITER = "lftest.writer"


async def note_writers(pool: asyncpg.Pool) -> None:
    """Record, for every statement appending to the audit log, who appended which offsets."""
    await pool.execute(
        f"""
        CREATE TABLE public.lftest_writes (
            writer    text   NOT NULL,
            topic     text   NOT NULL,
            partition int    NOT NULL,
            lo        bigint NOT NULL,
            hi        bigint NOT NULL,
            n         bigint NOT NULL
        );
        CREATE FUNCTION public.lftest_note_writes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO public.lftest_writes (writer, topic, partition, lo, hi, n)
            SELECT coalesce(current_setting('{WRITER}', true), '?'), topic, partition,
                   min(log_offset), max(log_offset), count(*)
            FROM new_rows GROUP BY topic, partition;
            RETURN NULL;
        END $$;
        CREATE TRIGGER lftest_note_writes AFTER INSERT ON audit_log
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION public.lftest_note_writes();
        """
    )


@dataclass(frozen=True)
class Written:
    """What one writer appended to one partition's chain: offsets lo..hi, n rows."""

    lo: int
    hi: int
    n: int


async def written(pool: asyncpg.Pool, topic: str) -> dict[str, dict[int, Written]]:
    rows = await pool.fetch(
        "SELECT writer, partition, min(lo) AS lo, max(hi) AS hi, sum(n)::bigint AS n "
        "FROM public.lftest_writes WHERE topic = $1 GROUP BY writer, partition",
        topic,
    )
    out: dict[str, dict[int, Written]] = {}
    for r in rows:
        out.setdefault(r["writer"], {})[r["partition"]] = Written(r["lo"], r["hi"], r["n"])
    return out


def as_writer(dsn: str, writer: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}{WRITER}={writer}"


@dataclass(frozen=True)
class Assignment:
    generation: int
    partitions: dict[str, frozenset[int]]


_EVENTS = re.compile(
    r"Joined group '[^']*' \(generation (?P<generation>\d+)\)"
    r"|Setting newly assigned partitions (?P<assigned>.*?) for group",
    re.DOTALL,
)
_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*\{([^}]*)\}\s*\|", re.MULTILINE)


def _partition_set(text: str) -> frozenset[int]:
    """faust's rendering of a partition set, e.g. ``0-1, 3``."""
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(out)


def current_assignment(log: Path) -> Assignment | None:
    """The partitions of the newest generation this worker joined, once it has logged them."""
    generation: int | None = None
    assignment: Assignment | None = None
    for match in _EVENTS.finditer(log.read_text(errors="replace") if log.exists() else ""):
        if match["generation"] is not None:
            generation, assignment = int(match["generation"]), None
        elif generation is not None:
            rows = _ROW.findall(match["assigned"])
            assignment = Assignment(generation, {t: _partition_set(s) for t, s in rows})
    return assignment


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.kafka
async def test_two_faust_projectors_share_partitions_and_survive_a_kill(
    pool: asyncpg.Pool,
    db_dsn: str,
    kafka_settings: KafkaSettings,
    layout: TopicLayout,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGERFLOW_PROJECTOR_SESSION_TIMEOUT_SECONDS", str(SESSION_TIMEOUT_SECONDS))
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")  # the logs are read while the workers run
    await note_writers(pool)
    data_partitions = frozenset(range(layout.data_partitions))
    logs = {name: tmp_path / name / "projector.log" for name in ("a", "b")}

    event_log = KafkaEventLog(kafka_settings, layout)
    await event_log.start()
    publisher = EventPublisher(event_log)
    events = mixed_events(TOTAL, seed=23)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            processes[name] = start_projector(
                as_writer(db_dsn, name), kafka_settings, layout, tmp_path / name
            )

        # Publish only once both are members of one generation that splits the data topic.
        async def split() -> tuple[Assignment, Assignment] | None:
            a, b = current_assignment(logs["a"]), current_assignment(logs["b"])
            if a is None or b is None or a.generation != b.generation:
                return None
            a_data = a.partitions.get(layout.data, frozenset())
            b_data = b.partitions.get(layout.data, frozenset())
            if a_data and b_data and not a_data & b_data and a_data | b_data == data_partitions:
                return a, b
            return None

        a_assigned, b_assigned = await wait_until(
            split, "both workers hold a share of the data partitions", timeout=90
        )
        a_parts = a_assigned.partitions[layout.data]
        b_parts = b_assigned.partitions[layout.data]

        for start in range(0, BEFORE_KILL, CHUNK):
            await publisher.publish(events[start : start + CHUNK])

        async def both_wrote() -> dict[str, dict[int, Written]] | None:
            seen = await written(pool, layout.data)
            return seen if seen.get("a") and seen.get("b") else None

        await wait_until(both_wrote, "both workers projected data records")
        processes["a"].send_signal(signal.SIGKILL)  # no shutdown, no last offset commit
        processes["a"].wait(timeout=30)

        # Kafka's committed offsets never run ahead of the positions stored with the batches.
        committed = await committed_offsets(
            kafka_settings, f"{layout.prefix}-projector", layout.data
        )
        stored = {
            r["partition"]: r["next_offset"]
            for r in await pool.fetch(
                "SELECT partition, next_offset FROM projector_positions WHERE topic = $1",
                layout.data,
            )
        }
        for partition, offset in committed.items():
            assert offset <= stored.get(partition, 0), (partition, committed, stored)
        crashed_at = await pool.fetchval("SELECT count(*) FROM audit_log")
        # B is handed the dead worker's partitions from their committed offsets: what lies
        # between those and the stored positions comes again and must be skipped.
        redelivered = sum(stored.get(p, 0) - max(committed.get(p, 0), 0) for p in a_parts)
        print(  # context for a failure report
            f"killed a at {crashed_at} rows; a held {sorted(a_parts)}, b {sorted(b_parts)}; "
            f"committed {committed}; stored {stored}; to redeliver: {redelivered}"
        )

        for start in range(BEFORE_KILL, TOTAL, CHUNK):
            await publisher.publish(events[start : start + CHUNK])
        await wait_for_audit_rows(pool, TOTAL, timeout=120)

        # The survivor took the dead worker's partitions in a later generation.
        b_now = current_assignment(logs["b"])
        assert b_now is not None and b_now.generation > b_assigned.generation, b_now
        assert b_now.partitions.get(layout.data) == data_partitions, b_now
        stop(processes["b"])
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        await event_log.close()

    assert await pool.fetchval("SELECT count(*) FROM audit_log") == TOTAL
    await assert_chains_gapless(pool, TOTAL)
    ids = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM audit_log")}
    assert ids == {e.event_id for e in events}

    # Each process projected data records, the dead one only from its own partitions; the
    # survivor projected all partitions, the dead one's from where that one's last commit ended
    # (so it never wrote them while the other held them: the chains would otherwise interleave).
    final = await written(pool, layout.data)
    assert set(final) == {"a", "b"}, final
    assert final["a"] and set(final["a"]) <= a_parts, (final, a_parts)
    assert set(final["b"]) == data_partitions, final
    for partition in a_parts:
        handed_over = final["a"][partition].hi + 1 if partition in final["a"] else 0
        assert final["b"][partition].lo == handed_over, final
    data_rows = await pool.fetchval("SELECT count(*) FROM audit_log WHERE topic = $1", layout.data)
    assert sum(w.n for per in final.values() for w in per.values()) == data_rows

    result = run_cli(db_dsn, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"intact: {TOTAL} links" in result.stdout
