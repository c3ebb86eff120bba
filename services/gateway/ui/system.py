"""`GET /api/ledgerflow/ui/system`: the ingest rate and the audit chains' status, for the UI's
system page (projection lag per partition is `/api/ledgerflow/lag`).

Cheap by design, so a page may poll it: two indexed queries and no chain verification. The
audit part reports each chain's head and where `ledgerflow audit verify --incremental` last
found it intact (its checkpoint); links after that are counted as not yet verified.

    {"now": ISO, "ingest": {"window_minutes": 15,
       "minutes": [{"minute": ISO, "control": n, "data": n, "rejected": n}, ...],  # oldest first
       "by_type": [{"event_type", "events", "rejected"}, ...],                     # most first
       "events_per_second": {"last_minute": x, "window": y}},
     "audit": {"chains": [{"chain", "head_seq", "head_hash", "head_recorded_at",
                           "head_matches", "verified_seq", "verified_at",
                           "checkpoint_matches", "unverified_links"}, ...],
               "links": n, "unverified_links": n, "dead_letters": n}}
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from schemas.envelope import format_time
from services.gateway.errors import MlflowError
from services.gateway.responses import json_response
from services.gateway.writes import node_of

INGEST_QUERY = (Path(__file__).parent / "ingest.sql").read_text(encoding="utf-8")
AUDIT_QUERY = (Path(__file__).parent / "audit.sql").read_text(encoding="utf-8")
DEFAULT_MINUTES = 15
MAX_MINUTES = 24 * 60


def _minutes(text: str | None) -> int:
    if text is None:
        return DEFAULT_MINUTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_MINUTES:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {text!r} for parameter 'minutes': "
            f"expected an integer from 1 to {MAX_MINUTES}.",
        )
    return value


def ingest_summary(
    rows: list[asyncpg.Record], control_topic: str, minutes: int, now: datetime
) -> dict[str, Any]:
    """Per-minute counts (every minute of the window, empty ones too) and per-type totals."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    buckets = {
        start + timedelta(minutes=i): {"control": 0, "data": 0, "rejected": 0}
        for i in range(minutes)
    }
    by_type: dict[str, dict[str, int]] = defaultdict(lambda: {"events": 0, "rejected": 0})
    recent = total = 0
    for r in rows:
        count = int(r["events"])
        total += count
        recent += count if r["recent"] else 0
        bucket = buckets.get(r["minute"])
        if bucket is not None:
            bucket["control" if r["topic"] == control_topic else "data"] += count
            if r["verdict"] == "rejected":
                bucket["rejected"] += count
        kind = by_type[r["event_type"]]
        kind["events"] += count
        if r["verdict"] == "rejected":
            kind["rejected"] += count
    return {
        "window_minutes": minutes,
        "minutes": [{"minute": format_time(m), **counts} for m, counts in buckets.items()],
        "by_type": [
            {"event_type": name, **counts}
            for name, counts in sorted(by_type.items(), key=lambda kv: (-kv[1]["events"], kv[0]))
        ],
        "events_per_second": {
            "last_minute": round(recent / 60, 3),
            "window": round(total / (minutes * 60), 3),
        },
    }


def audit_summary(rows: list[asyncpg.Record], dead_letters: int) -> dict[str, Any]:
    chains = []
    for r in rows:
        verified = r["verified_seq"] or 0
        chains.append(
            {
                "chain": r["chain"],
                "head_seq": r["head_seq"],
                "head_hash": bytes(r["head_hash"]).hex(),
                "head_recorded_at": format_time(r["head_recorded_at"])
                if r["head_recorded_at"]
                else None,
                "head_matches": r["head_matches"],
                "verified_seq": r["verified_seq"],
                "verified_at": format_time(r["verified_at"]) if r["verified_at"] else None,
                "checkpoint_matches": r["checkpoint_matches"],
                "unverified_links": max(0, r["head_seq"] - verified),
            }
        )
    return {
        "chains": chains,
        "links": sum(c["head_seq"] for c in chains),
        "unverified_links": sum(c["unverified_links"] for c in chains),
        "dead_letters": dead_letters,
    }


async def system_status(request: Request) -> Response:
    minutes = _minutes(request.query_params.get("minutes"))
    node = node_of(request)
    pool = node.database.pool
    async with pool.acquire() as conn:
        now = await conn.fetchval("SELECT clock_timestamp()")
        ingest_rows = await conn.fetch(INGEST_QUERY, minutes)
        audit_rows = await conn.fetch(AUDIT_QUERY)
        dead_letters = await conn.fetchval("SELECT count(*) FROM dead_letters")
    return json_response(
        {
            "now": format_time(now),
            "ingest": ingest_summary(
                ingest_rows, node.event_log.layout.control, minutes, now.astimezone(UTC)
            ),
            "audit": audit_summary(audit_rows, int(dead_letters)),
        }
    )


routes = [Route("/api/ledgerflow/ui/system", system_status, methods=["GET"])]
