"""The embedded default end to end, through the commands a user types: `ledgerflow bi grant`
against the data directory's own PostgreSQL (socket only, trusting), then the reader over that
socket with its password, and over TCP through `ledgerflow bi listen`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from services.store.embedded import release_embedded_postgres, start_embedded_postgres

LEDGERFLOW = [sys.executable, "-m", "services.cli"]
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def run(*args: str, env: dict[str, str]) -> Finished:
    process = await asyncio.create_subprocess_exec(
        *LEDGERFLOW,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory whose embedded PostgreSQL this test holds (the commands attach to it)."""
    start_embedded_postgres(tmp_path)
    yield tmp_path
    release_embedded_postgres(tmp_path)


@pytest.fixture
def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERFLOW_")}
    clean["COLUMNS"] = "200"
    return clean


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_grant_and_listen_on_the_embedded_postgres(
    data_dir: Path, env: dict[str, str]
) -> None:
    granted = await run(
        "bi",
        "grant",
        "--data-dir",
        str(data_dir),
        "--role",
        "dashboards",
        env={**env, "LEDGERFLOW_BI_PASSWORD": "dash secret"},
    )
    assert granted.returncode == 0, granted.stderr + granted.stdout
    assert "SELECT on the views of bi_v1" in granted.stdout
    line = next(x for x in granted.stdout.splitlines() if x.startswith("connect with:"))
    params = dict(part.split("=", 1) for part in line.removeprefix("connect with:").split())
    assert params["user"] == "dashboards"
    # the socket's directory (the data directory's PostgreSQL, unless its path is too long)
    assert params["host"].startswith("/")

    socket_kwargs = {
        "host": params["host"],
        "port": int(params["port"]),
        "database": params["dbname"],
    }
    conn = await asyncpg.connect(user="dashboards", password="dash secret", **socket_kwargs)
    try:
        # no server has run here yet: the views exist, empty
        assert await conn.fetchval("SELECT count(*) FROM bi_v1.experiments") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM ledgerflow.audit_log")
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(user="dashboards", password="guess", **socket_kwargs)

    port = free_port()
    listener = await asyncio.create_subprocess_exec(
        *LEDGERFLOW,
        "bi",
        "listen",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert listener.stdout is not None
        seen = []
        while not seen or "BI readers:" not in seen[-1]:  # log lines, then the banner
            output = await asyncio.wait_for(listener.stdout.readline(), 60)
            assert output, "".join(seen)
            seen.append(output.decode())
        assert f"host=127.0.0.1 port={port}" in seen[-1], "".join(seen)
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=port,
            user="dashboards",
            password="dash secret",
            database=params["dbname"],
        )
        try:
            assert await conn.fetchval("SELECT current_user") == "dashboards"
        finally:
            await conn.close()
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
            await asyncpg.connect(
                host="127.0.0.1", port=port, user="postgres", database=params["dbname"]
            )
    finally:
        listener.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(listener.wait(), 20)
        except TimeoutError:
            listener.kill()
            await listener.wait()
    assert listener.returncode == 0

    listed = await run("bi", "readers", "--data-dir", str(data_dir), env=env)
    assert listed.returncode == 0 and "dashboards" in listed.stdout, listed.stdout
    revoked = await run(
        "bi", "revoke", "--data-dir", str(data_dir), "--role", "dashboards", env=env
    )
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="does not exist"):
        await asyncpg.connect(user="dashboards", password="dash secret", **socket_kwargs)


async def test_listen_stays_on_loopback_and_off_external_databases(env: dict[str, str]) -> None:
    refused = await run("bi", "listen", "--host", "0.0.0.0", env=env)
    assert refused.returncode == 2 and "loopback" in refused.stderr
    external = await run(
        "bi", "listen", env={**env, "LEDGERFLOW_DATABASE_URL": "postgresql://x@db.example/x"}
    )
    assert external.returncode == 2 and "external PostgreSQL" in external.stderr
