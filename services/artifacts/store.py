"""The artifact store interface, implemented by the local directory and S3 stores.

Keys are relative POSIX paths (`services.artifacts.paths`). A store streams in both directions:
`put` consumes an async byte stream and hashes it on the way (never the whole file in memory),
`get` hands back the size and an async iterator of chunks.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

READ_CHUNK = 1024 * 1024
"""Bytes per chunk a store yields when reading."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What `put` wrote: the number of bytes and their SHA-256 (lowercase hex)."""

    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ArtifactEntry:
    """An immediate child of a listed directory; directories have no size."""

    name: str
    is_dir: bool
    size: int | None = None


class ArtifactNotFound(LookupError):
    """No file at the key (a directory is not a file)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"No such artifact: '{key}'")
        self.key = key


class ArtifactConflict(ValueError):
    """The key cannot hold a file: a directory is there, or a parent is a file."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"Cannot store '{key}': {reason}")
        self.key = key


class ArtifactStream:
    """An open file being read: its size, and its chunks, read once.

    Iterate ``chunks()``; call ``aclose()`` when done (idempotent), including when the chunks were
    never read, so the file or the HTTP connection behind it is released.
    """

    def __init__(
        self, size: int, chunks: AsyncIterator[bytes], close: Callable[[], Awaitable[None]]
    ) -> None:
        self.size = size
        self._chunks = chunks
        self._close = close
        self._closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._close()


class ArtifactStore(Protocol):
    """Where artifact files live. Every method takes keys checked by `paths.check_key`."""

    @property
    def kind(self) -> str:
        """`local` or `s3`."""
        ...

    async def put(self, key: str, body: AsyncIterable[bytes]) -> StoredFile:
        """Store the stream at ``key`` (replacing a file there) and return its size and hash.

        Readers never see a partial file; a failed upload leaves nothing behind."""
        ...

    async def get(self, key: str) -> ArtifactStream:
        """Open the file at ``key``; `ArtifactNotFound` if there is none."""
        ...

    async def list(self, directory: str) -> list[ArtifactEntry]:
        """Immediate children of ``directory`` ("" is the root) sorted by name; [] if it holds
        nothing or is a file."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the file at ``key`` and everything below ``key/``; nothing there is fine."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a file is stored at ``key``."""
        ...

    async def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


async def sha256_of(stream: ArtifactStream) -> StoredFile:
    """Read a whole stream, hashing it: the size and SHA-256 of what a store holds."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in stream.chunks():
        # hashlib releases the GIL on large buffers: hash beside the event loop, not in it.
        await asyncio.to_thread(digest.update, chunk)
        size += len(chunk)
    return StoredFile(size=size, sha256=digest.hexdigest())
