"""Recompute every audit chain and name the first broken link of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import orjson

from services.audit.chain import GENESIS, AuditLink

_ROWS = """
SELECT seq, chain, chain_seq, topic, partition, log_offset, event_id, event_type, aggregate,
       actor_name, actor_kind, occurred_at, recorded_at, event, verdict, error_code, reason,
       outcome, prev_hash, hash
  FROM audit_log WHERE chain = $1 ORDER BY chain_seq, seq"""


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    chain_seq: int
    seq: int | None
    problem: str


@dataclass
class ChainReport:
    chain: str
    links: int = 0
    head_seq: int = 0
    broken: BrokenLink | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


@dataclass
class AuditReport:
    chains: list[ChainReport] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return all(c.intact for c in self.chains)

    @property
    def links(self) -> int:
        return sum(c.links for c in self.chains)


def _derived_mismatch(row: asyncpg.Record) -> str | None:
    """The indexed columns must say what the hashed event says."""
    try:
        event = orjson.loads(row["event"])
    except orjson.JSONDecodeError:
        return "event is not valid JSON"
    expected = {
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "aggregate": row["aggregate"],
        "actor_name": row["actor_name"],
        "actor_kind": row["actor_kind"],
    }
    actual = {
        "event_id": event.get("event_id"),
        "event_type": event.get("type"),
        "aggregate": event.get("aggregate"),
        "actor_name": (event.get("actor") or {}).get("name"),
        "actor_kind": (event.get("actor") or {}).get("kind"),
    }
    for column, value in expected.items():
        if actual[column] != value:
            return f"column {column} ({value!r}) differs from the hashed event ({actual[column]!r})"
    occurred = event.get("occurred_at")
    if occurred is not None:
        stored = row["occurred_at"].astimezone(UTC)
        parsed = datetime.fromisoformat(occurred.replace("Z", "+00:00")).astimezone(UTC)
        if stored != parsed:
            return f"column occurred_at ({stored.isoformat()}) differs from the hashed event"
    return None


async def verify_chain(
    conn: asyncpg.Connection, chain: str, head: tuple[int, bytes] | None
) -> ChainReport:
    report = ChainReport(chain=chain)
    expected_seq = 1
    prev = GENESIS
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(_ROWS, chain, prefetch=2000):
            report.links += 1

            def broken(problem: str, row: asyncpg.Record = row) -> BrokenLink:
                return BrokenLink(chain, row["chain_seq"], row["seq"], problem)

            if row["chain_seq"] != expected_seq:
                kind = "missing" if row["chain_seq"] > expected_seq else "repeated"
                report.broken = broken(
                    f"link {expected_seq} is {kind}: found chain_seq {row['chain_seq']}"
                )
                return report
            if bytes(row["prev_hash"]) != prev:
                report.broken = broken("prev_hash does not match the previous link's hash")
                return report
            link = AuditLink(
                chain=row["chain"],
                chain_seq=row["chain_seq"],
                topic=row["topic"],
                partition=row["partition"],
                offset=row["log_offset"],
                recorded_at=row["recorded_at"],
                verdict=row["verdict"],
                error_code=row["error_code"],
                reason=row["reason"],
                outcome=row["outcome"],
                event=row["event"],
            )
            if link.hash(prev) != bytes(row["hash"]):
                report.broken = broken("hash does not match the row's content")
                return report
            mismatch = _derived_mismatch(row)
            if mismatch:
                report.broken = broken(mismatch)
                return report
            prev = bytes(row["hash"])
            expected_seq += 1
    report.head_seq = expected_seq - 1
    if head is not None:
        head_seq, head_hash = head
        if head_seq != report.head_seq or head_hash != prev:
            report.broken = BrokenLink(
                chain,
                report.head_seq + 1 if head_seq > report.head_seq else head_seq,
                None,
                f"chain head says link {head_seq} but the log ends at link {report.head_seq}"
                if head_seq != report.head_seq
                else "chain head hash differs from the last link's hash",
            )
    return report


async def verify(conn: asyncpg.Connection) -> AuditReport:
    heads = {
        r["chain"]: (r["chain_seq"], bytes(r["hash"]))
        for r in await conn.fetch("SELECT chain, chain_seq, hash FROM audit_chain_heads")
    }
    chains = sorted(
        set(heads) | {r["chain"] for r in await conn.fetch("SELECT DISTINCT chain FROM audit_log")}
    )
    report = AuditReport()
    for chain in chains:
        report.chains.append(await verify_chain(conn, chain, heads.get(chain)))
    return report
