"""Session fixtures: the real Kafka broker, PostgreSQL and S3 server, started once per session.

Set LEDGERFLOW_TEST_STACK=docker where a Docker engine runs to take them from testcontainers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from services.log.base import TopicLayout
from services.settings import KafkaSettings
from tests.stack.kafka import kafka_broker, stack_error
from tests.stack.postgres import postgres_server
from tests.stack.s3 import S3Endpoint, s3_server

USE_DOCKER = os.environ.get("LEDGERFLOW_TEST_STACK", "local") == "docker"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server(USE_DOCKER) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    try:
        with kafka_broker(USE_DOCKER) as bootstrap:
            yield bootstrap
    except stack_error() as err:
        pytest.exit(str(err), returncode=3)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with s3_server(USE_DOCKER) as endpoint:
        yield endpoint


def _with_database(dsn: str, database: str) -> str:
    base, _, query = dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


@pytest.fixture
async def db_dsn(pg_server: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(pg_server, name)
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, linger_ms=2)


@pytest.fixture
def layout() -> TopicLayout:
    """Topic names of this test's own, so tests never see each other's records."""
    return TopicLayout(prefix=f"t{uuid.uuid4().hex[:10]}", data_partitions=4)
