"""Session fixtures: the real Kafka broker, PostgreSQL and S3 server, started once per session.

Set LEDGERFLOW_TEST_STACK=docker where a Docker engine runs to take them from testcontainers.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from services.log.base import TopicLayout
from services.settings import KafkaSettings
from services.store.databases import create_database, drop_database
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


@pytest.fixture
async def db_dsn(pg_server: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield await create_database(pg_server, name)
    await drop_database(pg_server, name)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, linger_ms=2)


@pytest.fixture
def layout() -> TopicLayout:
    """Topic names of this test's own, so tests never see each other's records."""
    return TopicLayout(prefix=f"t{uuid.uuid4().hex[:10]}", data_partitions=4)
