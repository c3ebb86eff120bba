"""The projector's backlog between faust and the applier: order, bounds, waiting, and closing."""

from __future__ import annotations

import asyncio

import pytest

from services.projector.backlog import Backlog, BacklogClosed


async def test_takes_the_oldest_items_first_and_at_most_the_batch() -> None:
    backlog: Backlog[int] = Backlog(limit=10)
    await backlog.put(range(3))
    await backlog.put((3, 4))
    assert await backlog.take(4) == [0, 1, 2, 3]
    assert await backlog.take(4) == [4]
    assert len(backlog) == 0


async def test_take_waits_for_the_first_put() -> None:
    backlog: Backlog[str] = Backlog(limit=10)
    taking = asyncio.create_task(backlog.take(5))
    await asyncio.sleep(0)
    assert not taking.done()
    await backlog.put(("a",))
    assert await asyncio.wait_for(taking, timeout=5) == ["a"]


async def test_put_waits_for_room_and_a_take_makes_it() -> None:
    backlog: Backlog[int] = Backlog(limit=2)
    await backlog.put((1, 2))
    putting = asyncio.create_task(backlog.put((3,)))
    await asyncio.sleep(0)
    assert not putting.done() and len(backlog) == 2
    assert await backlog.take(1) == [1]
    await asyncio.wait_for(putting, timeout=5)
    assert await backlog.take(10) == [2, 3]


async def test_a_put_below_the_limit_takes_the_whole_batch_in() -> None:
    backlog: Backlog[int] = Backlog(limit=2)
    await backlog.put((1,))
    await backlog.put(range(2, 6))  # one below the limit: no waiting, nothing split
    assert len(backlog) == 5
    assert await backlog.take(10) == [1, 2, 3, 4, 5]


async def test_closing_fails_a_waiting_put_and_every_later_one_with_the_reason() -> None:
    backlog: Backlog[int] = Backlog(limit=1)
    await backlog.put((1,))
    putting = asyncio.create_task(backlog.put((2,)))
    await asyncio.sleep(0)
    reason = ValueError("the database is gone")
    backlog.close(reason)
    with pytest.raises(BacklogClosed) as failed:
        await asyncio.wait_for(putting, timeout=5)
    assert failed.value.__cause__ is reason
    await backlog.take(1)
    with pytest.raises(BacklogClosed):
        await backlog.put((3,))


def test_a_backlog_holds_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Backlog(limit=0)
