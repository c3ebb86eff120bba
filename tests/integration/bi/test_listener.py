"""The loopback TCP entrance (`ledgerflow bi listen`) to the embedded PostgreSQL's socket:
readers get through and are asked for their password; every other role, the superuser first,
is turned away before the server (which trusts its socket) ever sees it."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.bi.listener import open_entrance
from services.store.pool import connect
from tests.conftest import USE_DOCKER
from tests.integration.bi.conftest import Filled, Reader

pytestmark = pytest.mark.skipif(USE_DOCKER, reason="the entrance fronts a Unix socket")


@pytest.fixture
async def entrance(filled: Filled) -> AsyncIterator[int]:
    server, admin = await open_entrance(filled.dsn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()
        await admin.close()


async def database(filled: Filled) -> str:
    conn = await connect(filled.dsn)
    try:
        return str(await conn.fetchval("SELECT current_database()"))
    finally:
        await conn.close()


async def test_a_reader_comes_in_over_tcp_with_its_password(
    filled: Filled, reader: Reader, entrance: int
) -> None:
    db = await database(filled)
    for ssl in ("prefer", "disable"):  # a client asking for TLS is told no and carries on
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=entrance,
            user=reader.role,
            password=reader.password,
            database=db,
            ssl=ssl,
        )
        try:
            assert await conn.fetchval("SELECT count(*) FROM bi_v1.runs") == len(filled.facts.runs)
            assert await conn.fetchval("SELECT current_user") == reader.role
            # the client's cancel request goes through the entrance too: after a timeout the
            # connection is usable long before the 30 s sleep would have ended
            with pytest.raises(TimeoutError):
                await conn.fetchval("SELECT pg_sleep(30)", timeout=0.5)
            assert await conn.fetchval("SELECT 1", timeout=5) == 1
        finally:
            await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host="127.0.0.1", port=entrance, user=reader.role, password="wrong", database=db
        )


async def test_every_other_role_is_turned_away(filled: Filled, entrance: int) -> None:
    db = await database(filled)
    admin = await connect(filled.dsn)
    superuser = await admin.fetchval("SELECT current_user")
    await admin.execute("CREATE ROLE bi_listener_outsider LOGIN PASSWORD 'x'")
    try:
        for user in (superuser, "bi_listener_outsider", "no_such_role"):
            with pytest.raises(
                asyncpg.InvalidAuthorizationSpecificationError, match="readers only"
            ):
                await asyncpg.connect(
                    host="127.0.0.1", port=entrance, user=user, password="x", database=db
                )
    finally:
        await admin.execute("DROP ROLE bi_listener_outsider")
        await admin.close()


async def test_garbage_is_answered_and_closed(entrance: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", entrance)
    writer.write(struct.pack("!ii", 8, 1234))  # protocol 0.1234
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"E") and b"08P01" in answer
    writer.close()
