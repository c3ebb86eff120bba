"""Check the audit log against the event log itself: every link's (topic, partition, offset)
must hold the very event the link recorded. Catches a rewritten log as well as a rewritten
audit row whose hashes were recomputed."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.log.base import EventLog, TopicPartition

_LINKS = """
SELECT chain_seq, seq, log_offset, event FROM audit_log
 WHERE topic = $1 AND partition = $2 ORDER BY log_offset"""


@dataclass(frozen=True)
class CoordinateProblem:
    chain: str
    chain_seq: int
    seq: int
    offset: int
    problem: str


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


async def check_coordinates(
    conn: asyncpg.Connection, event_log: EventLog, batch: int = 1000, timeout: float = 2.0
) -> list[CoordinateProblem]:
    """The first problem of each chain (an empty list when every link matches the log)."""
    problems: list[CoordinateProblem] = []
    chains = await conn.fetch("SELECT DISTINCT topic, partition FROM audit_log ORDER BY 1, 2")
    for chain_row in chains:
        topic, partition = chain_row["topic"], chain_row["partition"]
        chain = f"{topic}/{partition}"
        ends = await event_log.end_offsets(topic)
        end = ends.get(partition, 0)
        links = await conn.fetch(_LINKS, topic, partition)
        if not links:
            continue
        reader = event_log.reader({TopicPartition(topic, partition): links[0]["log_offset"]})
        try:
            records: dict[int, bytes] = {}
            position = links[0]["log_offset"]
            for link in links:
                offset = link["log_offset"]
                while offset not in records and position < end:
                    got = await reader.next_batch(batch, timeout)
                    if not got:
                        break
                    for record in got:
                        records[record.offset] = record.value
                        position = record.offset + 1
                    # keep memory bounded: forget what lies behind this link
                    for old in [o for o in records if o < offset]:
                        del records[old]
                value = records.get(offset)
                if value is None:
                    problems.append(
                        CoordinateProblem(
                            chain,
                            link["chain_seq"],
                            link["seq"],
                            offset,
                            f"the log has no record at offset {offset}",
                        )
                    )
                    break
                if _text(value) != link["event"]:
                    problems.append(
                        CoordinateProblem(
                            chain,
                            link["chain_seq"],
                            link["seq"],
                            offset,
                            f"the record at offset {offset} is not the event this link recorded",
                        )
                    )
                    break
        finally:
            await reader.close()
    return problems
