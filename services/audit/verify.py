"""Recompute every audit chain and name the first broken link of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import orjson

from services.audit.chain import GENESIS, AuditLink

_ROWS = """
SELECT seq, chain, chain_seq, topic, partition, log_offset, event_id, event_type, aggregate,
       actor_name, actor_kind, occurred_at, recorded_at, event, verdict, error_code, reason,
       outcome, prev_hash, hash
  FROM audit_log WHERE chain = $1 AND chain_seq > $2 ORDER BY chain_seq, seq"""


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


@dataclass(frozen=True)
class Checkpoint:
    """A link already verified: verification may resume after it."""

    chain_seq: int
    hash: bytes


Progress = Callable[[int], None]


async def verify_chain(
    conn: asyncpg.Connection,
    chain: str,
    head: tuple[int, bytes] | None,
    start: Checkpoint | None = None,
    progress: Progress | None = None,
) -> ChainReport:
    report = ChainReport(chain=chain)
    expected_seq = (start.chain_seq if start else 0) + 1
    prev = start.hash if start else GENESIS
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(_ROWS, chain, expected_seq - 1, prefetch=2000):
            report.links += 1
            if progress is not None:
                progress(1)

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
            link = AuditLink.from_row(row)
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


async def total_links(conn: asyncpg.Connection, incremental: bool = False) -> int:
    """How many links a verification will read (for a progress bar)."""
    if incremental:
        value = await conn.fetchval(
            "SELECT coalesce(sum(h.chain_seq - coalesce(c.chain_seq, 0)), 0) "
            "FROM audit_chain_heads h LEFT JOIN audit_checkpoints c USING (chain)"
        )
    else:
        value = await conn.fetchval("SELECT coalesce(sum(chain_seq), 0) FROM audit_chain_heads")
    return int(value)


async def verify(
    conn: asyncpg.Connection, *, incremental: bool = False, progress: Progress | None = None
) -> AuditReport:
    """Recompute every chain. ``incremental`` resumes each chain after its last checkpoint (the
    links before it were found intact by an earlier run) and stores new checkpoints."""
    heads = {
        r["chain"]: (r["chain_seq"], bytes(r["hash"]))
        for r in await conn.fetch("SELECT chain, chain_seq, hash FROM audit_chain_heads")
    }
    chains = sorted(
        set(heads) | {r["chain"] for r in await conn.fetch("SELECT DISTINCT chain FROM audit_log")}
    )
    checkpoints: dict[str, Checkpoint] = {}
    if incremental:
        checkpoints = {
            r["chain"]: Checkpoint(r["chain_seq"], bytes(r["hash"]))
            for r in await conn.fetch("SELECT chain, chain_seq, hash FROM audit_checkpoints")
        }
    report = AuditReport()
    for chain in chains:
        chain_report = await verify_chain(
            conn, chain, heads.get(chain), checkpoints.get(chain), progress
        )
        report.chains.append(chain_report)
        head = heads.get(chain)
        if incremental and chain_report.intact and head is not None:
            await conn.execute(
                "INSERT INTO audit_checkpoints (chain, chain_seq, hash) VALUES ($1, $2, $3) "
                "ON CONFLICT (chain) DO UPDATE SET chain_seq = EXCLUDED.chain_seq, "
                "hash = EXCLUDED.hash, verified_at = clock_timestamp()",
                chain,
                head[0],
                head[1],
            )
    return report
