"""project_batch: one batch of log records in, one PostgreSQL transaction out.

In that transaction: the read-model changes of every event, one audit row per event (hash-chained
per stream), and the consumer's new positions. Records below the stored position were applied
before (a redelivery) and are skipped; an event id seen before is skipped too. Undecodable records
go to the dead-letter topic with their reason. After commit, writers waiting for verdicts are
notified on the ``ledgerflow_verdicts`` channel.
"""

from __future__ import annotations

import base64
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

import services.projector.handlers  # noqa: F401  (registers the projections)
from schemas import Envelope, EventDecodeError, decode
from services.audit.chain import GENESIS, AuditLink, chain_name
from services.log.base import LogRecord, TopicPartition
from services.projector import positions, projections
from services.projector.verdict import Rejection, Verdict, notices

log = logging.getLogger(__name__)

VERDICT_CHANNEL = "ledgerflow_verdicts"

AUDIT_COLUMNS = {
    "chain": "text",
    "chain_seq": "bigint",
    "topic": "text",
    "partition": "int",
    "log_offset": "bigint",
    "event_id": "uuid",
    "event_type": "text",
    "aggregate": "text",
    "actor_name": "text",
    "actor_kind": "text",
    "occurred_at": "timestamptz",
    "recorded_at": "timestamptz",
    "event": "text",
    "verdict": "text",
    "error_code": "text",
    "reason": "text",
    "outcome": "text",
    "prev_hash": "bytea",
    "hash": "bytea",
}


def _columns(types: Sequence[str], first: int = 1) -> str:
    """``unnest($first::t1[], ...)``: rows from one array parameter per column."""
    return ", ".join(f"${first + i}::{t}[]" for i, t in enumerate(types))


COPY_ABOVE_CHARS = 64 * 1024
"""Characters of event text in a batch above which its audit rows go by COPY: an extra round
trip, but a quarter of the CPU per byte of array parameters (a 1,000-point event is ~43 KB)."""

_HEAD_PARAMS = len(AUDIT_COLUMNS) + 1
_NOTICE_PARAMS = _HEAD_PARAMS + 3
_POSITION_PARAMS = _NOTICE_PARAMS + 2
RECORD_OUTCOME = (
    # One round trip for what a live batch leaves behind besides its read-model changes: the
    # audit rows (in array order, so `seq` follows the batch; none if they went by COPY), the
    # new chain heads, the consumer's new positions, and the notice to waiting writers
    # (delivered at commit). Data-modifying CTEs always run.
    f"WITH appended AS (INSERT INTO audit_log ({', '.join(AUDIT_COLUMNS)}) "
    f"SELECT * FROM unnest({_columns(list(AUDIT_COLUMNS.values()))})), "
    "heads AS (INSERT INTO audit_chain_heads (chain, chain_seq, hash) "
    f"SELECT * FROM unnest({_columns(['text', 'bigint', 'bytea'], _HEAD_PARAMS)}) "
    "ON CONFLICT (chain) DO UPDATE SET chain_seq = EXCLUDED.chain_seq, hash = EXCLUDED.hash), "
    f"stored AS ({positions.store_statement(_POSITION_PARAMS)}) "
    f"SELECT pg_notify(${_NOTICE_PARAMS}, notice) FROM unnest(${_NOTICE_PARAMS + 1}::text[]) "
    "AS notice"
)
RECORD_REPLAYED = (
    # A replay's counterpart: the events it has applied, and its new positions.
    "WITH seen AS (INSERT INTO seen_events (event_id) SELECT unnest($1::uuid[])) "
    f"{positions.store_statement(2)}"
)
SEEN_AND_HEADS = (
    # A live batch's second statement, after its positions are locked (so a fresh snapshot
    # sees what a worker that held them before committed): which of its events the audit log
    # has, and the heads of its streams' chains, locked until the batch has extended them.
    "WITH heads AS (SELECT chain, chain_seq, hash FROM audit_chain_heads "
    "WHERE chain = ANY($2::text[]) ORDER BY chain FOR UPDATE) "
    "SELECT NULL::uuid AS event_id, chain, chain_seq, hash FROM heads "
    "UNION ALL SELECT event_id, NULL, NULL, NULL FROM audit_log WHERE event_id = ANY($1::uuid[])"
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: LogRecord
    reason: str

    def encode(self) -> bytes:
        """The dead-letter record: where it came from, why, and the original bytes."""
        return orjson.dumps(
            {
                "topic": self.record.topic,
                "partition": self.record.partition,
                "offset": self.record.offset,
                "reason": self.reason,
                "key": base64.b64encode(self.record.key).decode() if self.record.key else None,
                "value": base64.b64encode(self.record.value).decode(),
            }
        )


DeadLetterSink = Callable[[Sequence[DeadLetter]], Awaitable[None]]


SWAP_LOCK = 0x6C66_7377  # "lfsw": live batches hold it shared; a read-model swap exclusively

# Evaluated with the positions' lock, before any of them is locked. The commit need not wait
# for its WAL flush: everything a batch writes derives from the log (durable before the batch
# was read) and the consumed positions commit with it, so a commit lost in a database crash is
# projected again, deciding the same.
_ASYNC_COMMIT = "set_config('synchronous_commit', 'off', true)"
_OPEN_LIVE = f"pg_advisory_xact_lock_shared({SWAP_LOCK}), {_ASYNC_COMMIT}"


@dataclass(frozen=True)
class Target:
    """Where a batch goes. Live: the read models on the search path, plus the audit log, the
    dead-letter topic and verdict notifications. Replay: only the read models of the schema on
    the connection's search path, with events seen before remembered in its `seen_events`."""

    audit: bool = True


LIVE = Target(audit=True)
REPLAY = Target(audit=False)


@dataclass
class BatchResult:
    applied: int = 0
    redelivered: int = 0
    duplicates: int = 0
    dead: int = 0
    verdicts: dict[UUID, Verdict] = field(default_factory=dict)


def _event_text(raw: bytes) -> str:
    # The event exactly as its producer wrote it (before any upcasting): what is hashed and kept.
    # It decoded as JSON, so it is valid UTF-8 and holds no NUL.
    return raw.decode()


async def _apply_one(conn: asyncpg.Connection, event: Envelope) -> Verdict:
    try:
        async with conn.transaction():  # a savepoint: a rejection undoes only this event
            return await projections.apply(conn, event)
    except Rejection as rejection:
        return Verdict(
            accepted=False,
            error_code=rejection.error_code,
            reason=rejection.reason,
            outcome=rejection.details,
        )
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as err:
        # A handler bug or an input the gateway should have refused: record it, do not stall.
        log.exception("projection of %s %s failed", event.type, event.event_id)
        return Verdict(accepted=False, error_code="INTERNAL_ERROR", reason=str(err))


async def _apply_set_based(
    conn: asyncpg.Connection, events: Sequence[Envelope]
) -> dict[UUID, Verdict]:
    """Verdicts of the events whose type has a set-based projection, applied type by type."""
    by_type: dict[str, list[Envelope]] = defaultdict(list)
    for event in events:
        if projections.batch_handler(event.type) is not None:
            by_type[event.type].append(event)
    decided: dict[UUID, Verdict] = {}
    for event_type, group in by_type.items():
        handler = projections.batch_handler(event_type)
        assert handler is not None
        for event, verdict in zip(group, await handler(conn, group), strict=True):
            decided[event.event_id] = verdict
    return decided


Decoded = Envelope | EventDecodeError


def decode_records(records: Sequence[LogRecord]) -> list[Decoded]:
    """Each record's event, or why it is not one. A caller that looks at the events too (replay
    counts metric points) decodes once and passes them to ``project_batch``."""
    decoded: list[Decoded] = []
    for record in records:
        try:
            decoded.append(decode(record.value))
        except EventDecodeError as err:
            decoded.append(err)
    return decoded


async def project_batch(
    conn: asyncpg.Connection,
    records: Sequence[LogRecord],
    *,
    consumer: str,
    deadletter: DeadLetterSink,
    target: Target = LIVE,
    decoded: Sequence[Decoded] | None = None,
) -> BatchResult:
    """Apply ``records`` (any mix of partitions, each in offset order) in one transaction;
    ``decoded``, when given, is ``decode_records(records)`` done beforehand."""
    result = BatchResult()
    if not records:
        return result
    events = decode_records(records) if decoded is None else decoded
    if len(events) != len(records):
        raise ValueError(f"{len(events)} decoded events for {len(records)} records")
    async with conn.transaction():
        stored = await positions.lock(
            conn,
            consumer,
            {r.tp for r in records},
            first=_OPEN_LIVE if target.audit else _ASYNC_COMMIT,
        )
        fresh = [
            (record, event)
            for record, event in zip(records, events, strict=True)
            if record.offset >= stored.get(record.tp, 0)
        ]
        result.redelivered = len(records) - len(fresh)

        readable: list[tuple[LogRecord, Envelope]] = []
        dead: list[DeadLetter] = []
        for record, event in fresh:
            if isinstance(event, EventDecodeError):
                dead.append(DeadLetter(record, event.reason))
            else:
                readable.append((record, event))

        event_ids = [event.event_id for _, event in readable]
        heads: dict[str, tuple[int, bytes]] = {}
        if target.audit:
            known, heads = await _seen_and_heads(conn, event_ids, readable)
        else:
            known = {
                r[0]
                for r in await conn.fetch(
                    "SELECT event_id FROM seen_events WHERE event_id = ANY($1::uuid[])", event_ids
                )
            }
        recorded_at = datetime.now(UTC)
        fresh_events: list[tuple[LogRecord, Envelope]] = []
        for record, event in readable:
            if event.event_id in known:
                result.duplicates += 1  # the same event published twice: applied once
                continue
            known.add(event.event_id)
            fresh_events.append((record, event))
        decided = await _apply_set_based(conn, [event for _, event in fresh_events])
        links: list[tuple[LogRecord, Envelope, Verdict]] = []
        for record, event in fresh_events:
            verdict = decided.get(event.event_id) or await _apply_one(conn, event)
            links.append((record, event, verdict))
            result.verdicts[event.event_id] = verdict

        if dead and target.audit:
            await deadletter(dead)
            await conn.executemany(
                "INSERT INTO dead_letters (topic, partition, log_offset, key, value, reason) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                [
                    (
                        d.record.topic,
                        d.record.partition,
                        d.record.offset,
                        d.record.key,
                        d.record.value,
                        d.reason,
                    )
                    for d in dead
                ],
            )
        result.dead = len(dead)
        result.applied = len(links)

        advanced: dict[TopicPartition, int] = {}
        for record in records:
            advanced[record.tp] = max(advanced.get(record.tp, 0), record.offset + 1)
        moved = positions.store_args(
            consumer, {tp: max(off, stored.get(tp, 0)) for tp, off in advanced.items()}
        )
        if target.audit:
            await _record_outcome(conn, links, heads, recorded_at, result.verdicts, moved)
        else:
            await conn.execute(RECORD_REPLAYED, [e.event_id for _, e, _ in links], *moved)
    return result


async def _seen_and_heads(
    conn: asyncpg.Connection, event_ids: list[UUID], readable: Sequence[tuple[LogRecord, Envelope]]
) -> tuple[set[UUID], dict[str, tuple[int, bytes]]]:
    """Events the audit log has (applied before), and the chain heads of the batch's streams."""
    chains = sorted({chain_name(record.topic, record.partition) for record, _ in readable})
    known: set[UUID] = set()
    heads: dict[str, tuple[int, bytes]] = {}
    for r in await conn.fetch(SEEN_AND_HEADS, event_ids, chains):
        if r[0] is None:
            heads[r[1]] = (r[2], bytes(r[3]))
        else:
            known.add(r[0])
    return known, heads


async def _record_outcome(
    conn: asyncpg.Connection,
    links: Sequence[tuple[LogRecord, Envelope, Verdict]],
    heads: dict[str, tuple[int, bytes]],
    recorded_at: datetime,
    verdicts: dict[UUID, Verdict],
    moved: Sequence[Any],
) -> None:
    """Append each applied event to its stream's audit chain (``heads``: the chains' heads,
    locked), store the consumer's new positions (``moved``: ``positions.store_args``) and tell
    waiting writers the verdicts (see ``verdict.notices``), in one statement."""
    by_chain: dict[str, list[tuple[LogRecord, Envelope, Verdict]]] = defaultdict(list)
    for link in links:
        by_chain[chain_name(link[0].topic, link[0].partition)].append(link)
    rows = []
    new_heads = []
    text_chars = 0
    for chain in sorted(by_chain):
        seq, prev = heads.get(chain, (0, GENESIS))
        for record, event, verdict in by_chain[chain]:
            seq += 1
            outcome = (
                orjson.dumps(verdict.outcome, option=orjson.OPT_SORT_KEYS).decode()
                if verdict.outcome is not None
                else None
            )
            audit = AuditLink(
                chain=chain,
                chain_seq=seq,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                recorded_at=recorded_at,
                verdict=verdict.label,
                error_code=verdict.error_code,
                reason=verdict.reason,
                outcome=outcome,
                event=_event_text(record.value),
            )
            digest = audit.hash(prev)
            text_chars += len(audit.event)
            rows.append(
                (
                    chain,
                    seq,
                    record.topic,
                    record.partition,
                    record.offset,
                    event.event_id,
                    event.type,
                    event.aggregate,
                    event.actor.name,
                    event.actor.kind,
                    event.occurred_at,
                    recorded_at,
                    audit.event,
                    audit.verdict,
                    audit.error_code,
                    audit.reason,
                    audit.outcome,
                    prev,
                    digest,
                )
            )
            prev = digest
        new_heads.append((chain, seq, prev))
    if text_chars > COPY_ABOVE_CHARS:
        await conn.copy_records_to_table("audit_log", records=rows, columns=list(AUDIT_COLUMNS))
        rows = []
    columns = [list(column) for column in zip(*rows, strict=True)] or [[] for _ in AUDIT_COLUMNS]
    head_columns = [list(column) for column in zip(*new_heads, strict=True)] or [[], [], []]
    await conn.execute(
        RECORD_OUTCOME, *columns, *head_columns, VERDICT_CHANNEL, notices(verdicts), *moved
    )
