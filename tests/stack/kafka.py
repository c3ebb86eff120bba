"""The Kafka broker for tests: a real KRaft broker from Maven Central jars, or a testcontainer."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "ledgerflow_kafka_broker", ROOT / "deploy/kafka/broker.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def kafka_broker(use_docker: bool) -> Iterator[str]:
    """Yield the bootstrap servers of a broker that lives for the test session."""
    if use_docker:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    launcher = _launcher()
    cache = Path(os.environ.get("LEDGERFLOW_KAFKA_JARS", ROOT / ".cache" / "kafka"))
    broker = launcher.KafkaBroker(launcher.ensure_jars(cache))
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def stack_error() -> type[Exception]:
    return _launcher().StackError  # type: ignore[no-any-return]
