"""The Kafka broker for tests: a real KRaft broker from Maven Central jars, or a testcontainer."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from deploy.kafka import broker as launcher

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def kafka_broker(use_docker: bool) -> Iterator[str]:
    """Yield the bootstrap servers of a broker that lives for the test session."""
    if use_docker:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    cache = Path(os.environ.get("LEDGERFLOW_KAFKA_JARS", ROOT / ".cache" / "kafka"))
    broker = launcher.KafkaBroker(launcher.ensure_jars(cache))
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def stack_error() -> type[Exception]:
    return launcher.StackError
