"""One audit link: the canonical record that is hashed, and the hash rule itself.

hash = sha256(prev_hash || record), where record is the canonical JSON of the link's audit fields
(sorted keys), a newline, and the event exactly as its producer wrote it (the bytes read from the
log, kept as they are in the audit row). An auditor can
recompute every link from an export without ledgerflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

GENESIS = bytes(32)


def chain_name(topic: str, partition: int) -> str:
    """One chain per stream: the control partition, and each data partition."""
    return f"{topic}/{partition}"


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AuditLink:
    """The hashed content of one audit row."""

    chain: str
    chain_seq: int
    topic: str
    partition: int
    offset: int
    recorded_at: datetime
    verdict: str
    error_code: str | None
    reason: str | None
    outcome: str | None
    event: str

    def record(self) -> bytes:
        meta = {
            "chain": self.chain,
            "chain_seq": self.chain_seq,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "recorded_at": format_time(self.recorded_at),
            "verdict": self.verdict,
            "error_code": self.error_code,
            "reason": self.reason,
            "outcome": self.outcome,
        }
        return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS) + b"\n" + self.event.encode()

    def hash(self, prev_hash: bytes) -> bytes:
        return hashlib.sha256(prev_hash + self.record()).digest()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditLink:
        """The link of an audit_log row (or of an exported line with the same field names)."""
        recorded_at = row["recorded_at"]
        if isinstance(recorded_at, str):
            recorded_at = datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
        return cls(
            chain=row["chain"],
            chain_seq=row["chain_seq"],
            topic=row["topic"],
            partition=row["partition"],
            offset=row["log_offset"],
            recorded_at=recorded_at,
            verdict=row["verdict"],
            error_code=row["error_code"],
            reason=row["reason"],
            outcome=row["outcome"],
            event=row["event"],
        )
