"""The local directory store (the embedded default): one file per key under a root directory.

Uploads are written to `<root>/.ledgerflow-incoming/` first, hashed and fsync'ed on the way, and
renamed into place when complete, so a reader sees the old file or the new one, never a part.
File I/O runs in worker threads, in blocks of `WRITE_BLOCK` bytes, to keep the event loop free.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import stat
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from services.artifacts.paths import UnsafePath, check_key
from services.artifacts.store import (
    READ_CHUNK,
    ArtifactConflict,
    ArtifactEntry,
    ArtifactNotFound,
    ArtifactStream,
    StoredFile,
)

INCOMING = ".ledgerflow-incoming"
"""Uploads in progress; reserved at the root, never listed."""

WRITE_BLOCK = 1024 * 1024
"""Bytes gathered from the request before one write (and hash update) in a worker thread."""

STALE_UPLOAD_SECONDS = 24 * 3600
"""Partial uploads older than this are removed at start (another process may share the root)."""


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self._incoming = self.root / INCOMING
        self._incoming.mkdir(exist_ok=True)
        self._remove_stale_uploads()

    @property
    def kind(self) -> str:
        return "local"

    def _remove_stale_uploads(self) -> None:
        cutoff = time.time() - STALE_UPLOAD_SECONDS
        for entry in os.scandir(self._incoming):
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)

    def _path(self, key: str) -> Path:
        """The file system path of a key, refusing anything that would leave the root."""
        check_key(key)
        if key.split("/", 1)[0] == INCOMING:
            raise UnsafePath(key, f"'{INCOMING}' is reserved")
        path = self.root.joinpath(*key.split("/"))
        # A symlink planted inside the root must not lead out of it.
        if not Path(os.path.realpath(path)).is_relative_to(self.root):
            raise UnsafePath(key, "it resolves outside the artifact root")
        return path

    async def put(self, key: str, body: AsyncIterable[bytes]) -> StoredFile:
        target = self._path(key)
        partial = self._incoming / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(open, partial, "xb")
        try:
            block = bytearray()
            async for chunk in body:
                block += chunk
                if len(block) >= WRITE_BLOCK:
                    size += await asyncio.to_thread(_write, handle, digest, block)
                    block.clear()
            size += await asyncio.to_thread(_write, handle, digest, block)
            await asyncio.to_thread(_finish, handle)
            await asyncio.to_thread(self._place, partial, target, key)
        except BaseException:
            await asyncio.to_thread(_discard, handle, partial)
            raise
        return StoredFile(size=size, sha256=digest.hexdigest())

    def _place(self, partial: Path, target: Path, key: str) -> None:
        for _ in range(3):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)
                return
            except FileNotFoundError:
                continue  # a concurrent delete pruned the parent we just made; make it again
            except IsADirectoryError:
                raise ArtifactConflict(key, "a directory is stored at this path") from None
            except (NotADirectoryError, FileExistsError):
                raise ArtifactConflict(key, "a parent directory is a file") from None
        raise ArtifactConflict(key, "its directory keeps disappearing (concurrent deletes)")

    async def get(self, key: str) -> ArtifactStream:
        path = self._path(key)
        try:
            handle, size = await asyncio.to_thread(_open_file, path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ArtifactNotFound(key) from None

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await asyncio.to_thread(handle.read, READ_CHUNK):
                yield chunk

        async def close() -> None:
            await asyncio.to_thread(handle.close)

        return ArtifactStream(size, chunks(), close)

    async def list(self, directory: str) -> list[ArtifactEntry]:
        path = self._path(directory) if directory else self.root
        return await asyncio.to_thread(_scan, path, path == self.root)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, self._path(key))

    def _delete(self, path: Path) -> None:
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISDIR(mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        # Directories exist only to hold files (as S3 prefixes do): prune the emptied parents.
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        return await asyncio.to_thread(path.is_file)

    async def close(self) -> None:
        return None


def _write(handle: BinaryIO, digest: hashlib._Hash, block: bytearray) -> int:
    digest.update(block)
    handle.write(block)
    return len(block)


def _finish(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _discard(handle: BinaryIO, partial: Path) -> None:
    handle.close()
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()


def _open_file(path: Path) -> tuple[BinaryIO, int]:
    handle = open(path, "rb")  # noqa: SIM115 - closed by the stream
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise IsADirectoryError(path)
    return handle, info.st_size


def _scan(path: Path, at_root: bool) -> list[ArtifactEntry]:
    entries = []
    try:
        with os.scandir(path) as found:
            for entry in found:
                if at_root and entry.name == INCOMING:
                    continue
                if entry.is_symlink():
                    continue  # never created by the store; never followed out of the root
                if entry.is_dir():
                    entries.append(ArtifactEntry(entry.name, is_dir=True))
                elif entry.is_file():
                    entries.append(ArtifactEntry(entry.name, False, entry.stat().st_size))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(entries, key=lambda e: e.name)
