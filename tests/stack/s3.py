"""S3 for tests: moto's server mode on a loopback port (the real S3 HTTP protocol)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def s3_server(use_docker: bool) -> Iterator[S3Endpoint]:
    """Yield an S3 endpoint URL for the test session."""
    if use_docker:
        from testcontainers.minio import MinioContainer

        with MinioContainer() as container:
            config = container.get_config()
            yield S3Endpoint(
                f"http://{config['endpoint']}", config["access_key"], config["secret_key"]
            )
        return
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Endpoint(f"http://127.0.0.1:{port}", "testing", "testing")
    finally:
        server.stop()
