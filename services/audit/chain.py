"""One audit link: the canonical record that is hashed, and the hash rule itself.

hash = sha256(prev_hash || record), where record is the canonical JSON of the link's audit fields
(sorted keys), a newline, and the canonical JSON of the event exactly as stored. An auditor can
recompute every link from an export without ledgerflow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

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
