"""Export a range of the audit log as JSON lines with the chain hashes, and check such a file
without ledgerflow's database: an auditor recomputes every link from the lines alone.

Each line holds the hashed fields (chain, chain_seq, topic, partition, log_offset, recorded_at,
verdict, error_code, reason, outcome, event) plus seq, event_id, prev_hash and hash in hex.
The rule: hash = sha256(prev_hash || record), record = the canonical JSON (sorted keys) of
{chain, chain_seq, topic, partition, offset, recorded_at, verdict, error_code, reason, outcome},
a newline, and `event` exactly as exported (see services/audit/chain.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import asyncpg
import orjson

from services.audit.chain import GENESIS, AuditLink, format_time

_RANGE = """
SELECT seq, chain, chain_seq, topic, partition, log_offset, event_id, recorded_at, event,
       verdict, error_code, reason, outcome, prev_hash, hash
  FROM audit_log
 WHERE seq >= $1 AND ($2::bigint IS NULL OR seq <= $2) AND ($3::text IS NULL OR chain = $3)
 ORDER BY seq"""


async def export_lines(
    conn: asyncpg.Connection,
    from_seq: int = 1,
    to_seq: int | None = None,
    chain: str | None = None,
) -> AsyncIterator[bytes]:
    """The audit rows of the range, one JSON line each (in global sequence order)."""
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(_RANGE, from_seq, to_seq, chain, prefetch=2000):
            yield (
                orjson.dumps(
                    {
                        "seq": row["seq"],
                        "chain": row["chain"],
                        "chain_seq": row["chain_seq"],
                        "topic": row["topic"],
                        "partition": row["partition"],
                        "log_offset": row["log_offset"],
                        "event_id": str(row["event_id"]),
                        "recorded_at": format_time(row["recorded_at"]),
                        "verdict": row["verdict"],
                        "error_code": row["error_code"],
                        "reason": row["reason"],
                        "outcome": row["outcome"],
                        "event": row["event"],
                        "prev_hash": bytes(row["prev_hash"]).hex(),
                        "hash": bytes(row["hash"]).hex(),
                    }
                )
                + b"\n"
            )


@dataclass
class ExportCheck:
    lines: int = 0
    chains: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def check_export(lines: Iterable[bytes | str]) -> ExportCheck:
    """Recompute every exported link. A chain's first line in the file may start mid-chain: its
    prev_hash is taken as given (compare it with the previous export's last hash); from then on
    every link must follow from the one before."""
    result = ExportCheck()
    last: dict[str, tuple[int, bytes]] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        result.lines += 1
        line = orjson.loads(raw)
        chain, seq = line["chain"], line["chain_seq"]
        prev = bytes.fromhex(line["prev_hash"])
        if chain in last:
            last_seq, last_hash = last[chain]
            if seq != last_seq + 1:
                result.problems.append(
                    f"line {number}: {chain} jumps from link {last_seq} to link {seq}"
                )
            if prev != last_hash:
                result.problems.append(
                    f"line {number}: {chain} link {seq} does not follow link {last_seq}"
                )
        elif seq == 1 and prev != GENESIS:
            result.problems.append(f"line {number}: {chain} link 1 does not start at genesis")
        digest = AuditLink.from_row(line).hash(prev)
        if digest.hex() != line["hash"]:
            result.problems.append(
                f"line {number}: {chain} link {seq} (seq {line['seq']}): hash does not match "
                "its content"
            )
        last[chain] = (seq, bytes.fromhex(line["hash"]))
        result.chains[chain] = result.chains.get(chain, 0) + 1
    return result
