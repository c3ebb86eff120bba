"""A loopback TCP entrance to the embedded PostgreSQL, for BI readers only.

The embedded server listens on a Unix socket alone, which tools built on JDBC (Metabase,
DBeaver, Tableau) cannot use, and which sits in the data directory where other system users
cannot reach it. A plain TCP-to-socket forwarder would be dangerous: the server trusts every
socket connection, so anyone on the machine could sign in through it as the superuser. This
one reads each connection's startup message, refuses TLS and GSS encryption (the client then
carries on in the clear, as on a socket; keep it on loopback), and forwards only connections
for a member of the reader group, whose password the server then asks for (services/bi/hba.py).
Every other connection is answered with PostgreSQL's own error message and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct

import asyncpg

from services.bi import READER_GROUP

log = logging.getLogger(__name__)

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
MAX_STARTUP_BYTES = 10_000  # PostgreSQL's own limit on a startup packet
STARTUP_TIMEOUT = 10.0
CHUNK = 64 * 1024


class StartupRefused(Exception):
    """A connection the entrance does not forward; the message goes back to the client."""

    def __init__(self, message: str, code: str = "28000") -> None:
        super().__init__(message)
        self.code = code


def error_response(message: str, code: str) -> bytes:
    """PostgreSQL's ErrorResponse message (FATAL), which every client shows as it is."""
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    fields += b"\0"
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


def startup_parameters(packet: bytes) -> dict[str, str]:
    """The key/value pairs of a protocol 3 startup packet (length, version, pairs, NUL)."""
    items = packet[8:].split(b"\0")
    params = {}
    for key, value in zip(items[0::2], items[1::2], strict=False):
        if not key:
            break
        params[key.decode(errors="replace")] = value.decode(errors="replace")
    return params


async def _packet(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    (length,) = struct.unpack("!i", head)
    if not 8 <= length <= MAX_STARTUP_BYTES:
        raise StartupRefused("invalid startup packet length", "08P01")
    return head + await reader.readexactly(length - 4)


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while chunk := await source.read(CHUNK):
        sink.write(chunk)
        await sink.drain()


class ReaderEntrance:
    """Accepts TCP connections and forwards those of BI readers to the server's socket."""

    def __init__(self, admin: asyncpg.Pool, socket_path: str) -> None:
        self._admin = admin
        self._socket_path = socket_path

    async def is_reader(self, role: str) -> bool:
        return bool(
            await self._admin.fetchval(
                """SELECT EXISTS (
                     SELECT 1 FROM pg_auth_members m
                       JOIN pg_roles r ON r.oid = m.member
                       JOIN pg_roles g ON g.oid = m.roleid
                      WHERE r.rolname = $1 AND g.rolname = $2
                        AND r.rolcanlogin AND NOT r.rolsuper)""",
                role,
                READER_GROUP,
            )
        )

    async def handle(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        server: asyncio.StreamWriter | None = None
        try:
            try:
                packet = await asyncio.wait_for(
                    self._startup(client_reader, client), STARTUP_TIMEOUT
                )
            except StartupRefused as refused:
                client.write(error_response(str(refused), refused.code))
                await client.drain()
                return
            server_reader, server = await asyncio.open_unix_connection(self._socket_path)
            server.write(packet)
            await server.drain()
            if packet[4:8] == struct.pack("!i", CANCEL_REQUEST):
                return  # a cancel request gets no answer; the server acts on it and closes
            directions = [
                asyncio.create_task(_pump(client_reader, server)),
                asyncio.create_task(_pump(server_reader, client)),
            ]
            _, pending = await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*directions, return_exceptions=True)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError) as err:
            log.debug("BI entrance: connection ended: %r", err)
        finally:
            for writer in (client, server):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()

    async def _startup(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """The client's startup packet, once it is one to forward."""
        packet = await _packet(reader)
        (code,) = struct.unpack("!i", packet[4:8])
        while code in (SSL_REQUEST, GSSENC_REQUEST):
            writer.write(b"N")  # not supported: the client continues unencrypted, or gives up
            await writer.drain()
            packet = await _packet(reader)
            (code,) = struct.unpack("!i", packet[4:8])
        if code == CANCEL_REQUEST:
            return packet
        if code >> 16 != 3:
            raise StartupRefused("unsupported frontend protocol", "08P01")
        params = startup_parameters(packet)
        user = params.get("user", "")
        if "replication" in params:
            raise StartupRefused("replication connections are not forwarded")
        if not user or not await self.is_reader(user):
            raise StartupRefused(
                f'role "{user}" may not connect here: this entrance admits ledgerflow BI '
                "readers only (ledgerflow bi grant)"
            )
        return packet


async def socket_path(conn: asyncpg.Connection) -> str:
    """The server's Unix socket, from its own settings."""
    directories = await conn.fetchval("SHOW unix_socket_directories")
    port = await conn.fetchval("SHOW port")
    first = directories.split(",")[0].strip()
    if not first:
        raise RuntimeError("the server listens on no Unix socket")
    return f"{first}/.s.PGSQL.{port}"


async def open_entrance(dsn: str, host: str, port: int) -> tuple[asyncio.Server, asyncpg.Pool]:
    """Listen on ``host:port`` and forward readers to the server ``dsn`` names (its Unix
    socket). The caller closes both."""
    admin = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert admin is not None
    try:
        async with admin.acquire() as conn:
            path = await socket_path(conn)
        entrance = ReaderEntrance(admin, path)
        server = await asyncio.start_server(entrance.handle, host, port)
    except BaseException:
        await admin.close()
        raise
    return server, admin
