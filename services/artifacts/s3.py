"""The S3 store (aioboto3): one object per key under an optional key prefix in one bucket.

Uploads are hashed while streaming. A body smaller than one part is a single PUT; a larger one is
a multipart upload whose parts are sent while the next is read (at most `upload_concurrency` in
flight, so memory stays at a few parts whatever the file size), and aborted if anything fails,
so a failed upload leaves nothing behind. Directories are key prefixes, as in MLflow's S3 store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import ClientError

from services.artifacts.paths import check_key, join_key
from services.artifacts.settings import ArtifactSettings
from services.artifacts.store import (
    READ_CHUNK,
    ArtifactEntry,
    ArtifactNotFound,
    ArtifactStream,
    StoredFile,
)

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part (all but the last)."""

MAX_PARTS = 10_000
PART_GROWTH_EVERY = 1000
"""The part size grows by the configured size every this many parts, to stay under MAX_PARTS."""

ObjectIds = list[dict[str, str]]
"""Keys for DeleteObjects."""

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class S3StoreError(RuntimeError):
    """The S3 store cannot be used as configured (e.g. the bucket does not exist)."""


class S3ArtifactStore:
    def __init__(self, settings: ArtifactSettings) -> None:
        if settings.s3_part_size < MIN_PART_SIZE:
            raise S3StoreError(
                f"LEDGERFLOW_ARTIFACTS_S3_PART_SIZE must be at least {MIN_PART_SIZE} bytes"
            )
        self.settings = settings
        self.bucket = settings.s3_bucket
        self.prefix = (settings.s3_prefix or "").strip("/")
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    @property
    def kind(self) -> str:
        return "s3"

    async def start(self) -> None:
        settings = self.settings
        access_key = settings.s3_access_key_id
        secret_key = settings.s3_secret_access_key
        session = aioboto3.Session(
            aws_access_key_id=access_key.get_secret_value() if access_key else None,
            aws_secret_access_key=secret_key.get_secret_value() if secret_key else None,
            region_name=settings.s3_region,
        )
        # S3-compatible servers (MinIO, moto, Ceph) are addressed path-style: no bucket DNS.
        addressing = "path" if settings.s3_endpoint_url else "auto"
        config = Config(
            s3={"addressing_style": addressing},
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=max(10, 2 * settings.s3_upload_concurrency),
        )
        self._client = await self._stack.enter_async_context(
            session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
        )
        try:
            await self._ensure_bucket()
        except BaseException:
            await self.close()
            raise

    async def _ensure_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as err:
            if _error_code(err) not in _MISSING:
                raise
        if not self.settings.s3_create_bucket:
            raise S3StoreError(
                f"S3 bucket {self.bucket!r} does not exist; create it, or set "
                "LEDGERFLOW_ARTIFACTS_S3_CREATE_BUCKET=true to have ledgerflow create it"
            )
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.settings.s3_region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.s3_region}
        try:
            await self._client.create_bucket(**kwargs)
            log.info("created S3 bucket %s", self.bucket)
        except ClientError as err:
            if _error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    async def close(self) -> None:
        self._client = None
        await self._stack.aclose()

    def _object_key(self, key: str) -> str:
        return join_key(self.prefix, check_key(key))

    def _part_size(self, part_number: int) -> int:
        return self.settings.s3_part_size * (1 + (part_number - 1) // PART_GROWTH_EVERY)

    async def put(self, key: str, body: AsyncIterable[bytes]) -> StoredFile:
        object_key = self._object_key(key)
        digest = hashlib.sha256()
        size = 0
        part = bytearray()
        upload: _MultipartUpload | None = None
        try:
            async for chunk in body:
                part += chunk
                size += len(chunk)
                number = upload.next_number if upload else 1
                if len(part) >= self._part_size(number):
                    data = bytes(part)
                    part.clear()
                    await asyncio.to_thread(digest.update, data)
                    if upload is None:
                        upload = await _MultipartUpload.create(self, object_key)
                    await upload.send(data)
            data = bytes(part)
            part.clear()
            await asyncio.to_thread(digest.update, data)
            if upload is None:
                await self._client.put_object(Bucket=self.bucket, Key=object_key, Body=data)
            else:
                if data:
                    await upload.send(data)
                await upload.complete()
        except BaseException:
            if upload is not None:
                await upload.abort()
            raise
        return StoredFile(size=size, sha256=digest.hexdigest())

    async def get(self, key: str) -> ArtifactStream:
        object_key = self._object_key(key)
        try:
            response = await self._client.get_object(Bucket=self.bucket, Key=object_key)
        except ClientError as err:
            if _error_code(err) in _MISSING:
                raise ArtifactNotFound(key) from None
            raise
        body = response["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in body.iter_chunks(READ_CHUNK):
                yield chunk

        async def close() -> None:
            body.close()

        return ArtifactStream(int(response["ContentLength"]), chunks(), close)

    async def _pages(self, prefix: str, delimiter: str | None) -> AsyncIterator[dict[str, Any]]:
        paginator = self._client.get_paginator("list_objects_v2")
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        async for page in paginator.paginate(**kwargs):
            yield page

    def _directory_prefix(self, directory: str) -> str:
        base = join_key(self.prefix, check_key(directory) if directory else "")
        return f"{base}/" if base else ""

    async def list(self, directory: str) -> list[ArtifactEntry]:
        prefix = self._directory_prefix(directory)
        entries: dict[str, ArtifactEntry] = {}
        async for page in self._pages(prefix, "/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(prefix) :].rstrip("/")
                if name and "/" not in name:
                    entries[name] = ArtifactEntry(name, is_dir=True)
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                # "" is a directory marker object some tools create; skip it.
                if name and "/" not in name and name not in entries:
                    entries[name] = ArtifactEntry(name, False, int(item["Size"]))
        return sorted(entries.values(), key=lambda e: e.name)

    async def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        await self._client.delete_object(Bucket=self.bucket, Key=object_key)
        batch: ObjectIds = []
        async for page in self._pages(object_key + "/", None):
            batch.extend({"Key": item["Key"]} for item in page.get("Contents", []))
            while len(batch) >= 1000:
                await self._delete_objects(batch[:1000])
                batch = batch[1000:]
        if batch:
            await self._delete_objects(batch)

    async def _delete_objects(self, objects: ObjectIds) -> None:
        response = await self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
        )
        if response.get("Errors"):
            first = response["Errors"][0]
            raise RuntimeError(f"S3 refused to delete {first.get('Key')}: {first.get('Message')}")

    async def exists(self, key: str) -> bool:
        try:
            await self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as err:
            if _error_code(err) in _MISSING:
                return False
            raise
        return True


class _MultipartUpload:
    """One multipart upload: parts sent concurrently (bounded), completed or aborted."""

    def __init__(self, store: S3ArtifactStore, object_key: str, upload_id: str) -> None:
        self.store = store
        self.object_key = object_key
        self.upload_id = upload_id
        self.next_number = 1
        self.parts: list[dict[str, Any]] = []
        self.in_flight: set[asyncio.Task[None]] = set()

    @classmethod
    async def create(cls, store: S3ArtifactStore, object_key: str) -> _MultipartUpload:
        response = await store._client.create_multipart_upload(Bucket=store.bucket, Key=object_key)
        return cls(store, object_key, response["UploadId"])

    async def send(self, data: bytes) -> None:
        if self.next_number > MAX_PARTS:
            raise ValueError(
                f"more than {MAX_PARTS} parts; raise LEDGERFLOW_ARTIFACTS_S3_PART_SIZE"
            )
        while len(self.in_flight) >= self.store.settings.s3_upload_concurrency:
            await self._wait_one()
        number = self.next_number
        self.next_number += 1
        self.in_flight.add(asyncio.create_task(self._upload_part(number, data)))

    async def _wait_one(self) -> None:
        done, _ = await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            self.in_flight.discard(task)
            task.result()  # re-raise a failed part

    async def _upload_part(self, number: int, data: bytes) -> None:
        response = await self.store._client.upload_part(
            Bucket=self.store.bucket,
            Key=self.object_key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=data,
        )
        self.parts.append({"PartNumber": number, "ETag": response["ETag"]})

    async def complete(self) -> None:
        while self.in_flight:
            await self._wait_one()
        await self.store._client.complete_multipart_upload(
            Bucket=self.store.bucket,
            Key=self.object_key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": sorted(self.parts, key=lambda p: p["PartNumber"])},
        )

    async def abort(self) -> None:
        for task in self.in_flight:
            task.cancel()
        if self.in_flight:
            await asyncio.wait(self.in_flight)
        for task in self.in_flight:
            if not task.cancelled():
                task.exception()  # retrieved: the failure that matters is being raised already
        self.in_flight.clear()
        try:
            await self.store._client.abort_multipart_upload(
                Bucket=self.store.bucket, Key=self.object_key, UploadId=self.upload_id
            )
        except Exception:
            log.warning("could not abort multipart upload %s", self.upload_id, exc_info=True)
