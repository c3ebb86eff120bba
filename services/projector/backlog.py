"""The projector's backlog: events taken from the log and not yet applied, in arrival order.

The faust agent puts events in as they arrive; the applier takes everything there is (up to one
batch) whenever it finishes a transaction. Batches therefore grow with the load by themselves: a
lone write is applied at once, and under a backlog the events that arrived during one transaction
make the next. Taking from the log never waits for a transaction, only for room.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class BacklogClosed(RuntimeError):
    """The side taking from the backlog stopped; nothing will make room again."""


class Backlog(Generic[T]):
    """A bounded FIFO between one putter and one taker on the same event loop."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a backlog holds at least one item, not {limit}")
        self.limit = limit
        self._items: deque[T] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self._ready = asyncio.Event()
        self._closed: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, items: Iterable[T]) -> None:
        """Append ``items``, first waiting until fewer than ``limit`` are held (so at most
        ``limit`` plus one put's worth are ever held)."""
        while len(self._items) >= self.limit:
            self._raise_if_closed()
            self._room.clear()
            await self._room.wait()
        self._raise_if_closed()
        self._items.extend(items)
        if self._items:
            self._ready.set()

    async def take(self, most: int) -> list[T]:
        """The oldest ``most`` items or fewer, waiting for at least one."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        taken = [self._items.popleft() for _ in range(min(most, len(self._items)))]
        if len(self._items) < self.limit:
            self._room.set()
        return taken

    def close(self, reason: BaseException) -> None:
        """The taker is gone: a waiting or later ``put`` raises ``BacklogClosed`` from
        ``reason``."""
        self._closed = reason
        self._room.set()

    def _raise_if_closed(self) -> None:
        if self._closed is not None:
            raise BacklogClosed("the projector's applier stopped") from self._closed
