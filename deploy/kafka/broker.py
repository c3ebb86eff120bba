"""A single-node Apache Kafka broker (KRaft, combined broker+controller) without Docker.

The jars come from Maven Central via deploy/kafka/fetch-kafka.sh. Used by the test session and
usable by hand for a local cluster-mode setup:

    deploy/kafka/fetch-kafka.sh .cache/kafka && python deploy/kafka/broker.py --port 9092
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_JARS = HERE.parent.parent / ".cache" / "kafka"

# The client-side JIT compiler only. With the JVM's default tiered compilation, a fresh broker's
# C2 compiler thread kept recompiling the produce and fetch paths for its first ~10,000 requests,
# and on this two-core machine that CPU is taken from the gateway, the projector and PostgreSQL:
# one synchronous log-metric (one produce and one fetch) cost the broker 2.2-6.9 ms of CPU over
# its first 3,000 calls, half of it in the compiler. With C1 alone it cost 1.0-1.9 ms from the
# start and ~0.9 ms once settled, what the C2 broker reached only after ~10,000 calls.
JIT_OPTIONS = ("-XX:TieredStopAtLevel=1",)

# The whole heap from the start (as Kafka's own start script does, with 1 GB), in 4 MB regions.
# A native SDK producer sends batches of up to 1 MiB, and with the heap starting at 256 MB in
# G1's default 1 MB regions each such request was a humongous allocation: a fresh broker ran a
# concurrent mark cycle for nearly every one until G1 had grown the heap, which cost it ~0.5
# CPU-s more in the first million SDK points than in the next (1.0 against 0.26 CPU-s), and the
# first SDK phase ran at 485,000 points/s against 710,000 for the second. With these options no
# allocation is humongous (a region holds objects up to 2 MB); in three runs the first phase ran
# at 548,500-676,000 points/s, the broker using 0.35-0.55 CPU-s (some first-phase cost remains
# in every process: docs/benchmarks/profile-notes.md).
HEAP_OPTIONS = ("-Xms768m", "-Xmx768m", "-XX:+UseG1GC", "-XX:G1HeapRegionSize=4m")


class StackError(RuntimeError):
    """The broker cannot run on this machine; the message says what to install or fix."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_jars(cache: Path) -> Path:
    """Return the jar directory, resolving it with Maven the first time."""
    if shutil.which("java") is None:
        raise StackError(
            "Java is missing: install a Java 17+ runtime "
            "(Debian: apt-get install openjdk-17-jre-headless) to run the Kafka broker."
        )
    jars = cache / "jars"
    if not any(jars.glob("kafka_2.13-*.jar")):
        if shutil.which("mvn") is None:
            raise StackError(
                "Maven is missing: install it (Debian: apt-get install maven) so the Kafka "
                "broker jars can be resolved from Maven Central."
            )
        subprocess.run([str(HERE / "fetch-kafka.sh"), str(cache)], check=True)
    return jars


class KafkaBroker:
    """Formats a KRaft log directory and runs one broker on a loopback port."""

    def __init__(
        self,
        jars: Path,
        workdir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
    ) -> None:
        self.jars = jars
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="ledgerflow-kafka-"))
        self.port = port or free_port()
        # The controller's address is written into the formatted log, so keep it stable for a
        # reused workdir.
        self.controller_port = controller_port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _properties(self) -> Path:
        logs = self.workdir / "data"
        props = self.workdir / "server.properties"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={logs}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "log.retention.ms=-1",
                    "message.max.bytes=8388608",
                    "replica.fetch.max.bytes=8388608",
                ]
            )
            + "\n"
        )
        return props

    def _java(self, *args: str) -> list[str]:
        return [
            "java",
            *HEAP_OPTIONS,
            *JIT_OPTIONS,
            f"-Dkafka.logs.dir={self.workdir}",
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.properties'}",
            "-cp",
            f"{self.jars}/*",
            *args,
        ]

    def start(self, timeout: float = 90.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self._properties()
        if not (self.workdir / "data" / "meta.properties").exists():
            subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    _cluster_id(),
                    "-c",
                    str(props),
                ),
                check=True,
                capture_output=True,
            )
        out = (self.workdir / "stdout.log").open("ab")
        self.process = subprocess.Popen(
            self._java("kafka.Kafka", str(props)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StackError(f"Kafka broker exited early; see {self.workdir}/server.log")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                # The port opens before the broker has a controller; a metadata round trip
                # through kafka's own client would be stricter, the Python side retries anyway.
                if _broker_registered(self.workdir):
                    return
            time.sleep(0.2)
        raise StackError(f"Kafka broker not ready after {timeout:.0f}s; see {self.workdir}")

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


def _cluster_id() -> str:
    """Kafka cluster ids are 16 random bytes in URL-safe base64 without padding. One starting
    with "-" would be read as an option by the format tool, so such ids are drawn again."""
    import base64

    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def _broker_registered(workdir: Path) -> bool:
    log = workdir / "server.log"
    if not log.exists():
        return False
    text = log.read_text(errors="replace")
    return "Kafka Server started" in text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--jars", type=Path, default=DEFAULT_JARS)
    parser.add_argument("--workdir", type=Path, default=Path(".cache/kafka-broker"))
    args = parser.parse_args()
    try:
        broker = KafkaBroker(ensure_jars(args.jars), args.workdir, args.port, args.port + 1)
        broker.start()
    except StackError as err:
        sys.exit(str(err))
    print(f"Kafka broker ready at {broker.bootstrap_servers} (Ctrl-C stops it)", flush=True)
    try:
        assert broker.process is not None
        broker.process.wait()
    except KeyboardInterrupt:
        broker.stop()


if __name__ == "__main__":
    main()
