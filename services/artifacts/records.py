"""The artifact read model (`artifact_files`, projected from `artifact.stored`) and the check that
compares it with what the store actually holds."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import asyncpg

from services.artifacts.layout import key_of_uri
from services.artifacts.paths import join_key
from services.artifacts.store import ArtifactNotFound, ArtifactStore, sha256_of
from services.store import tracking

VERIFY_CONCURRENCY = 4
"""Files hashed at once by a verification."""

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A stored file as the events recorded it (the last write of its path wins)."""

    path: str
    """Relative to the run's or model's artifact root."""
    store_path: str
    """The store key."""
    size: int
    sha256: str
    stored_at: int
    """Event time, in milliseconds since the epoch."""
    collected_at: int | None = None
    """When a retention sweep deleted the file (`artifacts.collected` event time), if it did."""

    def json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


_COLUMNS = "path, store_path, size, sha256, stored_at, collected_at"


async def run_records(conn: Connection, run_id: str) -> list[ArtifactRecord]:
    """Every file recorded for the run, including those a retention sweep collected."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM artifact_files WHERE run_id = $1 ORDER BY path", run_id
    )
    return [ArtifactRecord(*row) for row in rows]


async def model_records(conn: Connection, model_id: str) -> list[ArtifactRecord]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM artifact_files WHERE model_id = $1 ORDER BY path", model_id
    )
    return [ArtifactRecord(*row) for row in rows]


class UnknownRun(LookupError):
    """Neither the run nor any artifact record of it is known."""


class NotProxied(ValueError):
    """The run's artifacts live somewhere the gateway does not serve (e.g. s3:// directly)."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"the run's artifacts are at {uri}, outside the gateway's artifact store")
        self.uri = uri


@dataclass
class VerifyReport:
    run_id: str
    root: str
    """Store key of the run's artifact root."""
    recorded: int = 0
    """Recorded files the store should hold (collected ones excluded)."""
    collected: int = 0
    """Recorded files a retention sweep deleted: expected to be gone, so not missing."""
    stored: int = 0
    checked_bytes: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    """Recorded, but no file in the store."""
    extra: list[dict[str, Any]] = field(default_factory=list)
    """In the store, but never recorded."""
    mismatched: list[dict[str, Any]] = field(default_factory=list)
    """Stored with a different size or SHA-256 than recorded."""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.mismatched)

    def json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "root": self.root,
            "ok": self.ok,
            "recorded": self.recorded,
            "collected": self.collected,
            "stored": self.stored,
            "checked_bytes": self.checked_bytes,
            "missing": self.missing,
            "extra": self.extra,
            "mismatched": self.mismatched,
        }


async def _run_root(conn: Connection, run_id: str, records: list[ArtifactRecord]) -> str:
    row = await tracking.run_row(conn, run_id)
    if row is not None:
        root = key_of_uri(str(row["artifact_uri"]))
        if root is None:
            raise NotProxied(str(row["artifact_uri"]))
        return root
    if records:  # the upload raced the run's creation; the records say where the files are
        first = records[0]
        return first.store_path[: -len(first.path) - 1]
    raise UnknownRun(run_id)


async def walk(store: ArtifactStore, root: str) -> dict[str, int]:
    """Every file below ``root``: path relative to it -> size."""
    files: dict[str, int] = {}
    pending = [""]
    while pending:
        directory = pending.pop()
        for entry in await store.list(join_key(root, directory)):
            path = join_key(directory, entry.name)
            if entry.is_dir:
                pending.append(path)
            else:
                files[path] = entry.size or 0
    return files


async def verify_run_artifacts(conn: Connection, store: ArtifactStore, run_id: str) -> VerifyReport:
    """Compare the run's recorded files with the store: re-hash every recorded file that is
    there, and list what is missing, extra, or different. Files a retention sweep collected are
    expected to be gone; one that is back without a new record counts as extra."""
    every = await run_records(conn, run_id)
    root = await _run_root(conn, run_id, every)
    records = [r for r in every if r.collected_at is None]
    on_disk = await walk(store, root) if root else {}
    report = VerifyReport(
        run_id=run_id,
        root=root,
        recorded=len(records),
        collected=len(every) - len(records),
        stored=len(on_disk),
    )
    recorded_paths = {r.path for r in records}
    report.extra = [
        {"path": path, "size": size}
        for path, size in sorted(on_disk.items())
        if path not in recorded_paths
    ]
    limit = asyncio.Semaphore(VERIFY_CONCURRENCY)

    async def check(record: ArtifactRecord) -> None:
        if record.path not in on_disk:
            report.missing.append(record.json())
            return
        async with limit:
            try:
                actual = await sha256_of(await store.get(join_key(root, record.path)))
            except ArtifactNotFound:  # deleted between the listing and now
                report.missing.append(record.json())
                return
        report.checked_bytes += actual.size
        if (actual.size, actual.sha256) != (record.size, record.sha256):
            report.mismatched.append(
                {
                    "path": record.path,
                    "recorded": {"size": record.size, "sha256": record.sha256},
                    "stored": {"size": actual.size, "sha256": actual.sha256},
                }
            )

    await asyncio.gather(*(check(r) for r in records))
    report.missing.sort(key=lambda m: str(m["path"]))
    report.mismatched.sort(key=lambda m: str(m["path"]))
    return report
