"""One contract for every artifact store: the local directory and S3 (moto) pass the same suite."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest
from pydantic import SecretStr

from services.artifacts.local import INCOMING, LocalArtifactStore
from services.artifacts.paths import UnsafePath
from services.artifacts.s3 import S3ArtifactStore, S3StoreError
from services.artifacts.settings import ArtifactSettings
from services.artifacts.store import (
    ArtifactEntry,
    ArtifactNotFound,
    ArtifactStore,
    StoredFile,
    sha256_of,
)
from tests.stack.s3 import S3Endpoint

MiB = 1024 * 1024


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read(store: ArtifactStore, key: str) -> bytes:
    stream = await store.get(key)
    data = b"".join([chunk async for chunk in stream.chunks()])
    assert len(data) == stream.size
    return data


def stored(data: bytes) -> StoredFile:
    return StoredFile(len(data), hashlib.sha256(data).hexdigest())


class ArtifactStoreContract:
    """Subclasses provide ``store`` (empty, ready) and ``partial_uploads`` (what a failed
    upload could have left behind: temp files, unfinished multipart uploads)."""

    async def partial_uploads(self, store: ArtifactStore) -> list[str]:
        raise NotImplementedError

    async def test_put_returns_size_and_sha256_and_get_reads_it_back(
        self, store: ArtifactStore
    ) -> None:
        data = os.urandom(300_000)
        assert await store.put("1/r/artifacts/a.bin", chunks_of(data)) == stored(data)
        assert await read(store, "1/r/artifacts/a.bin") == data
        assert await sha256_of(await store.get("1/r/artifacts/a.bin")) == stored(data)

    async def test_empty_file(self, store: ArtifactStore) -> None:
        assert await store.put("empty.txt", chunks_of(b"")) == stored(b"")
        assert await read(store, "empty.txt") == b""
        assert await store.exists("empty.txt")

    async def test_large_body_streams_in_parts(self, store: ArtifactStore) -> None:
        # Bigger than two S3 parts (5 MiB in these tests) and than the local write block.
        data = os.urandom(12 * MiB + 123)
        assert await store.put("big/file.bin", chunks_of(data, 100_000)) == stored(data)
        stream = await store.get("big/file.bin")
        assert stream.size == len(data)
        assert await sha256_of(stream) == stored(data)
        assert await self.partial_uploads(store) == []

    async def test_put_replaces_a_file(self, store: ArtifactStore) -> None:
        await store.put("a.txt", chunks_of(b"first version"))
        assert await store.put("a.txt", chunks_of(b"second")) == stored(b"second")
        assert await read(store, "a.txt") == b"second"

    async def test_missing_file_is_not_found(self, store: ArtifactStore) -> None:
        with pytest.raises(ArtifactNotFound, match=r"No such artifact: 'nope/a\.txt'"):
            await store.get("nope/a.txt")
        assert not await store.exists("nope/a.txt")

    async def test_a_directory_is_not_a_file(self, store: ArtifactStore) -> None:
        await store.put("dir/a.txt", chunks_of(b"a"))
        with pytest.raises(ArtifactNotFound):
            await store.get("dir")
        assert not await store.exists("dir")

    async def test_list_gives_immediate_children(self, store: ArtifactStore) -> None:
        for key, body in [
            ("run/artifacts/b.txt", b"bb"),
            ("run/artifacts/a.txt", b"a"),
            ("run/artifacts/model/MLmodel", b"mm"),
            ("run/artifacts/model/data/weights.bin", b"wwww"),
            ("run/other.txt", b"o"),
        ]:
            await store.put(key, chunks_of(body))
        assert await store.list("run/artifacts") == [
            ArtifactEntry("a.txt", False, 1),
            ArtifactEntry("b.txt", False, 2),
            ArtifactEntry("model", True, None),
        ]
        assert await store.list("run/artifacts/model") == [
            ArtifactEntry("MLmodel", False, 2),
            ArtifactEntry("data", True, None),
        ]
        assert await store.list("") == [ArtifactEntry("run", True, None)]

    async def test_list_of_a_file_or_nothing_is_empty(self, store: ArtifactStore) -> None:
        await store.put("d/a.txt", chunks_of(b"a"))
        assert await store.list("d/a.txt") == []
        assert await store.list("missing") == []
        assert await store.list("d/a") == [], "a prefix of a name is not a directory"

    async def test_delete_a_file(self, store: ArtifactStore) -> None:
        await store.put("d/a.txt", chunks_of(b"a"))
        await store.put("d/b.txt", chunks_of(b"b"))
        await store.delete("d/a.txt")
        assert not await store.exists("d/a.txt")
        assert await store.list("d") == [ArtifactEntry("b.txt", False, 1)]

    async def test_delete_a_directory_and_everything_below(self, store: ArtifactStore) -> None:
        for key in ("d/x/1.txt", "d/x/y/2.txt", "d/x/y/z/3.txt", "d/xx.txt", "d/x2/4.txt"):
            await store.put(key, chunks_of(b"."))
        await store.delete("d/x")
        assert await store.list("d") == [
            ArtifactEntry("x2", True, None),
            ArtifactEntry("xx.txt", False, 1),
        ], "siblings sharing the name's prefix survive"

    async def test_emptied_directories_disappear(self, store: ArtifactStore) -> None:
        await store.put("p/q/r/only.txt", chunks_of(b"1"))
        await store.put("keep.txt", chunks_of(b"1"))
        await store.delete("p/q/r/only.txt")
        assert await store.list("") == [ArtifactEntry("keep.txt", False, 1)]

    async def test_deleting_nothing_is_fine(self, store: ArtifactStore) -> None:
        await store.delete("never/was.txt")
        await store.delete("never")

    async def test_a_failed_upload_leaves_nothing(self, store: ArtifactStore) -> None:
        async def broken() -> AsyncIterator[bytes]:
            yield os.urandom(6 * MiB)  # far enough for S3 to have started a multipart upload
            raise ConnectionError("the client went away")

        with pytest.raises(ConnectionError):
            await store.put("r/artifacts/broken.bin", broken())
        assert not await store.exists("r/artifacts/broken.bin")
        assert await store.list("") == []
        assert await self.partial_uploads(store) == []

    async def test_a_failed_replacement_keeps_the_old_file(self, store: ArtifactStore) -> None:
        await store.put("a.txt", chunks_of(b"old"))

        async def broken() -> AsyncIterator[bytes]:
            yield b"new"
            raise ConnectionError("the client went away")

        with pytest.raises(ConnectionError):
            await store.put("a.txt", broken())
        assert await read(store, "a.txt") == b"old"

    async def test_concurrent_puts(self, store: ArtifactStore) -> None:
        bodies = {f"c/{i}/f.bin": os.urandom(50_000 + i) for i in range(16)}
        results = await asyncio.gather(*(store.put(k, chunks_of(v)) for k, v in bodies.items()))
        assert results == [stored(v) for v in bodies.values()]
        for key, body in bodies.items():
            assert await read(store, key) == body

    async def test_names_with_spaces_and_unicode(self, store: ArtifactStore) -> None:
        key = "dir with space/modèle ü %41.txt"
        await store.put(key, chunks_of(b"x"))
        assert await read(store, key) == b"x"
        assert await store.list("dir with space") == [ArtifactEntry("modèle ü %41.txt", False, 1)]

    @pytest.mark.parametrize("key", ["../x", "a/../../x", "/abs", "a//b", "a\\b", "a\x00b", ""])
    async def test_unsafe_keys_are_refused_by_every_operation(
        self, store: ArtifactStore, key: str
    ) -> None:
        with pytest.raises(UnsafePath):
            await store.put(key, chunks_of(b"x"))
        with pytest.raises(UnsafePath):
            await store.get(key)
        with pytest.raises(UnsafePath):
            await store.delete(key)
        with pytest.raises(UnsafePath):
            await store.exists(key)
        if key:  # "" lists the root
            with pytest.raises(UnsafePath):
                await store.list(key)

    async def test_an_unread_stream_can_be_closed(self, store: ArtifactStore) -> None:
        await store.put("a.txt", chunks_of(b"abc"))
        stream = await store.get("a.txt")
        await stream.aclose()
        await stream.aclose()


class TestLocalStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore(tmp_path / "root" / "artifacts")

    async def partial_uploads(self, store: ArtifactStore) -> list[str]:
        assert isinstance(store, LocalArtifactStore)
        return sorted(os.listdir(store.root / INCOMING))

    async def test_nothing_outside_the_root_is_touched(
        self, store: LocalArtifactStore, tmp_path: Path
    ) -> None:
        sentinels = {
            tmp_path / "secret.txt": b"top secret",
            tmp_path / "root" / "secret.txt": b"next door",
        }
        for path, body in sentinels.items():
            path.write_bytes(body)
        for key in ("../secret.txt", "../../secret.txt", "a/../../secret.txt", "/etc/passwd"):
            for attempt in (
                store.put(key, chunks_of(b"overwritten")),
                store.get(key),
                store.delete(key),
                store.exists(key),
                store.list(key),
            ):
                with pytest.raises(UnsafePath):
                    await attempt
        for path, body in sentinels.items():
            assert path.read_bytes() == body
        assert sorted(os.listdir(tmp_path)) == ["root", "secret.txt"]

    async def test_symlinks_never_lead_out_of_the_root(
        self, store: LocalArtifactStore, tmp_path: Path
    ) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_bytes(b"secret")
        (store.root / "link").symlink_to(outside, target_is_directory=True)
        (store.root / "file-link").symlink_to(outside / "secret.txt")
        with pytest.raises(UnsafePath, match="outside the artifact root"):
            await store.put("link/new.txt", chunks_of(b"x"))
        with pytest.raises(UnsafePath):
            await store.get("link/secret.txt")
        with pytest.raises(UnsafePath):
            await store.get("file-link")
        with pytest.raises(UnsafePath):
            await store.delete("link/secret.txt")
        assert await store.list("") == [], "symlinks are not listed"
        assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
        assert (outside / "secret.txt").read_bytes() == b"secret"

    async def test_uploads_in_progress_are_reserved_and_hidden(
        self, store: LocalArtifactStore
    ) -> None:
        with pytest.raises(UnsafePath, match="reserved"):
            await store.put(f"{INCOMING}/x", chunks_of(b"x"))
        assert await store.list("") == []

    def test_stale_partial_uploads_are_removed_at_start(self, tmp_path: Path) -> None:
        root = tmp_path / "artifacts"
        LocalArtifactStore(root)
        stale, fresh = root / INCOMING / "stale", root / INCOMING / "fresh"
        stale.write_bytes(b"x")
        fresh.write_bytes(b"x")
        os.utime(stale, (0, 0))
        LocalArtifactStore(root)
        assert sorted(os.listdir(root / INCOMING)) == ["fresh"]


def s3_settings(endpoint: S3Endpoint, bucket: str, **extra: object) -> ArtifactSettings:
    return ArtifactSettings(
        backend="s3",
        s3_endpoint_url=endpoint.url,
        s3_bucket=bucket,
        s3_region=endpoint.region,
        s3_access_key_id=SecretStr(endpoint.access_key),
        s3_secret_access_key=SecretStr(endpoint.secret_key),
        s3_part_size=5 * MiB,
        **extra,
    )


def s3_client(endpoint: S3Endpoint) -> Any:
    return aioboto3.Session().client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
    )


class TestS3Store(ArtifactStoreContract):
    @pytest.fixture
    async def store(self, s3_endpoint: S3Endpoint) -> AsyncIterator[S3ArtifactStore]:
        bucket = f"t-{uuid.uuid4().hex[:16]}"
        store = S3ArtifactStore(
            s3_settings(s3_endpoint, bucket, s3_prefix="ledger/flow", s3_create_bucket=True)
        )
        await store.start()
        yield store
        await store.close()

    async def partial_uploads(self, store: ArtifactStore) -> list[str]:
        assert isinstance(store, S3ArtifactStore)
        response = await store._client.list_multipart_uploads(Bucket=store.bucket)
        return [u["Key"] for u in response.get("Uploads", [])]

    async def test_objects_live_under_the_key_prefix(
        self, store: S3ArtifactStore, s3_endpoint: S3Endpoint
    ) -> None:
        await store.put("1/r/artifacts/a.txt", chunks_of(b"a"))
        async with s3_client(s3_endpoint) as client:
            listed = await client.list_objects_v2(Bucket=store.bucket)
        assert [o["Key"] for o in listed["Contents"]] == ["ledger/flow/1/r/artifacts/a.txt"]

    async def test_a_multipart_upload_is_used_for_large_bodies(
        self, store: S3ArtifactStore, s3_endpoint: S3Endpoint
    ) -> None:
        data = os.urandom(11 * MiB)
        await store.put("big.bin", chunks_of(data))
        async with s3_client(s3_endpoint) as client:
            head = await client.head_object(Bucket=store.bucket, Key="ledger/flow/big.bin")
        # A multipart object's ETag is "<md5 of part md5s>-<number of parts>".
        assert head["ETag"].strip('"').endswith("-3")
        assert head["ContentLength"] == len(data)

    async def test_a_missing_bucket_stops_the_start_unless_creation_is_allowed(
        self, s3_endpoint: S3Endpoint
    ) -> None:
        bucket = f"t-{uuid.uuid4().hex[:16]}"
        with pytest.raises(S3StoreError, match="LEDGERFLOW_ARTIFACTS_S3_CREATE_BUCKET"):
            await S3ArtifactStore(s3_settings(s3_endpoint, bucket)).start()
        created = S3ArtifactStore(s3_settings(s3_endpoint, bucket, s3_create_bucket=True))
        await created.start()
        await created.close()
        again = S3ArtifactStore(s3_settings(s3_endpoint, bucket))  # exists now
        await again.start()
        await again.close()

    def test_parts_below_s3s_minimum_are_refused(self, s3_endpoint: S3Endpoint) -> None:
        with pytest.raises(S3StoreError, match="at least"):
            S3ArtifactStore(s3_settings(s3_endpoint, "b").model_copy(update={"s3_part_size": 1}))
