"""Waiting for the projector's verdict on events this process published (read-your-writes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from uuid import UUID

import asyncpg
import orjson

from services.projector.batch import VERDICT_CHANNEL
from services.projector.verdict import Verdict, read_notice

log = logging.getLogger(__name__)


class VerdictTimeout(Exception):
    """The projector did not decide in time (it may be down or far behind)."""


class VerdictWaiter:
    """Resolves futures from the projector's NOTIFY on commit; falls back to the audit log."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._pending: dict[UUID, asyncio.Future[Verdict | None]] = {}
        self._conn: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        await self._conn.add_listener(VERDICT_CHANNEL, self._on_notify)

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for event_id, verdict in read_notice(payload):
            future = self._pending.get(event_id)
            if future is not None and not future.done():
                future.set_result(verdict)  # None: decided, but read it from the audit log

    def expect(self, event_ids: Sequence[UUID]) -> None:
        """Register interest before publishing, so no notification can be missed."""
        loop = asyncio.get_running_loop()
        for event_id in event_ids:
            self._pending[event_id] = loop.create_future()

    def forget(self, event_ids: Sequence[UUID]) -> None:
        for event_id in event_ids:
            future = self._pending.pop(event_id, None)
            if future is not None and not future.done():
                future.cancel()

    async def wait(self, event_ids: Sequence[UUID], timeout: float) -> dict[UUID, Verdict]:
        """The verdicts of ``event_ids``; raises VerdictTimeout if any is still undecided."""
        futures = [self._pending[e] for e in event_ids if e in self._pending]
        try:
            if futures:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*futures), timeout)
            verdicts: dict[UUID, Verdict] = {}
            for event_id in event_ids:
                future = self._pending.get(event_id)
                if future is not None and future.done() and not future.cancelled():
                    verdict = future.result()
                    if verdict is not None:
                        verdicts[event_id] = verdict
            unread = [e for e in event_ids if e not in verdicts]
            if unread:
                verdicts.update(await self.lookup(unread))
        finally:
            self.forget(event_ids)
        missing = [e for e in event_ids if e not in verdicts]
        if missing:
            raise VerdictTimeout(f"no verdict after {timeout:.0f}s for {len(missing)} event(s)")
        return verdicts

    async def lookup(self, event_ids: Sequence[UUID]) -> dict[UUID, Verdict]:
        rows = await self._pool.fetch(
            "SELECT event_id, verdict, error_code, reason, outcome FROM audit_log "
            "WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return {
            r["event_id"]: Verdict(
                accepted=r["verdict"] == "accepted",
                error_code=r["error_code"],
                reason=r["reason"],
                outcome=orjson.loads(r["outcome"]) if r["outcome"] else None,
            )
            for r in rows
        }
