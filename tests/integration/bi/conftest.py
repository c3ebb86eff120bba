"""A database filled through the projector once for the package, and a reader role on it that
signs in with its password (the session's PostgreSQL is the embedded one unless Docker provides
it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from services.bi.hba import require_passwords
from services.bi.roles import grant_reader, revoke_reader
from services.node import Node
from services.settings import CoreSettings
from services.store.databases import create_database, drop_database
from services.store.pool import connect
from tests.conftest import USE_DOCKER
from tests.integration.bi.data import Facts, fill


@dataclass
class Reader:
    dsn: str
    role: str
    password: str

    async def connect(self, **kwargs: object) -> asyncpg.Connection:
        """A connection as the reader, with nothing of the application's set-up."""
        return await asyncpg.connect(self.dsn, user=self.role, password=self.password, **kwargs)


@dataclass
class Filled:
    dsn: str
    facts: Facts


async def make_reader(dsn: str, password: str = "reader secret") -> Reader:
    role = f"bi_reader_{uuid.uuid4().hex[:10]}"
    admin = await connect(dsn)
    try:
        await grant_reader(admin, role, password)
        if not USE_DOCKER:  # the embedded server trusts its socket until told otherwise
            await require_passwords(admin)
    finally:
        await admin.close()
    return Reader(dsn, role, password)


async def drop_reader(reader: Reader) -> None:
    admin = await connect(reader.dsn)
    try:
        await revoke_reader(admin, reader.role)
    finally:
        await admin.close()


@pytest.fixture(scope="package")
async def filled(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Filled]:
    """A fresh database with the BI test data, shared by this package's tests (which leave it as
    they found it; the replay test swaps a database of its own)."""
    name = f"bi_{uuid.uuid4().hex[:12]}"
    dsn = await create_database(pg_server, name)
    core = CoreSettings(
        data_dir=Path(tmp_path_factory.mktemp("bi")),
        database_url=SecretStr(dsn),
        topic_prefix="bi",
        data_partitions=3,
    )
    node = Node(core, verdict_timeout=60)
    await node.start()
    try:
        facts = await fill(node)
    finally:
        await node.close()
    yield Filled(dsn, facts)
    await drop_database(pg_server, name)


@pytest.fixture(scope="package")
async def reader(filled: Filled) -> AsyncIterator[Reader]:
    made = await make_reader(filled.dsn)
    yield made
    await drop_reader(made)
