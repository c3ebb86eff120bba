"""The projector's decision about one event (accepted, or rejected with MLflow's error), and
the notification that tells waiting writers about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: bool
    error_code: str | None = None
    reason: str | None = None
    outcome: dict[str, Any] | None = None
    """What the decision produced that the writer needs back (e.g. an assigned version)."""

    @property
    def label(self) -> str:
        return "accepted" if self.accepted else "rejected"


ACCEPTED = Verdict(accepted=True)


class Rejection(Exception):
    """Raised by a projection to reject its event; everything it wrote is rolled back."""

    def __init__(self, error_code: str, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{error_code}: {reason}")
        self.error_code = error_code
        self.reason = reason
        self.details = details
        """Structured facts of the rejection (kept as the verdict's outcome), so a writer can
        phrase the error for its endpoint."""


# ---- the notification of decided events (NOTIFY ledgerflow_verdicts at commit)

NOTICE_LIMIT = 7000
"""Bytes per NOTIFY payload (PostgreSQL refuses more than 8000)."""
_INLINE_LIMIT = 2000
"""A verdict bigger than this travels as its event id only (the writer reads the audit log)."""


def notices(verdicts: Mapping[UUID, Verdict]) -> list[str]:
    """The NOTIFY payloads announcing ``verdicts``: JSON arrays of ``[event id, accepted,
    error_code, reason, outcome]`` (or ``[event id]`` for a verdict too big to inline)."""
    payloads: list[str] = []
    chunk: list[bytes] = []
    size = 2
    for event_id, verdict in verdicts.items():
        entry = orjson.dumps(
            [str(event_id), verdict.accepted, verdict.error_code, verdict.reason, verdict.outcome]
        )
        if len(entry) > _INLINE_LIMIT:
            entry = orjson.dumps([str(event_id)])
        if chunk and size + len(entry) + 1 > NOTICE_LIMIT:
            payloads.append("[" + ",".join(e.decode() for e in chunk) + "]")
            chunk, size = [], 2
        chunk.append(entry)
        size += len(entry) + 1
    if chunk:
        payloads.append("[" + ",".join(e.decode() for e in chunk) + "]")
    return payloads


def read_notice(payload: str) -> list[tuple[UUID, Verdict | None]]:
    """The decided events of one notification, each with its verdict when it was inlined."""
    try:
        entries = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return []
    decided: list[tuple[UUID, Verdict | None]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not (isinstance(entry, list) and entry and isinstance(entry[0], str)):
            continue
        try:
            event_id = UUID(entry[0])
        except ValueError:
            continue
        if len(entry) == 5:
            accepted, error_code, reason, outcome = entry[1:]
            decided.append((event_id, Verdict(bool(accepted), error_code, reason, outcome)))
        else:
            decided.append((event_id, None))
    return decided
