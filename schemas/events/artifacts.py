"""Artifact events: a stored file (data stream) and a retention sweep (control stream)."""

from __future__ import annotations

import posixpath
from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator

from schemas.events.common import Count
from schemas.payload import Payload, Stream

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

ARTIFACTS_AGGREGATE = "artifacts"
"""The aggregate of store-wide artifact events, which belong to no single run or model."""


class ArtifactStored(Payload):
    """A file was stored under a run's or a logged model's artifact root.

    The aggregate, and so the data partition, is the run when there is one, else the model.
    """

    TYPE: ClassVar[str] = "artifact.stored"
    STREAM: ClassVar[Stream] = "data"

    run_id: str | None = None
    model_id: str | None = None
    path: str
    """Relative to the artifact root, normalized: no leading "/", no "." or ".." segments."""
    size: Count
    sha256: Sha256Hex

    @field_validator("path")
    @classmethod
    def _relative(cls, path: str) -> str:
        if (
            not path
            or path.startswith("/")
            or posixpath.normpath(path) != path
            or path.split("/", 1)[0] in (".", "..")
        ):
            raise ValueError(f"not a normalized relative path: {path!r}")
        return path

    @model_validator(mode="after")
    def _has_owner(self) -> ArtifactStored:
        if self.run_id is None and self.model_id is None:
            raise ValueError("one of run_id and model_id must be set")
        return self

    def aggregate_id(self) -> str:
        owner = self.run_id if self.run_id is not None else self.model_id
        assert owner is not None  # guaranteed by _has_owner
        return owner


class ArtifactsCollected(Payload):
    """A retention sweep deleted artifact files; the record of what went and why."""

    TYPE: ClassVar[str] = "artifacts.collected"
    STREAM: ClassVar[Stream] = "control"

    paths: list[str]
    bytes_freed: Count
    policy: str

    def aggregate_id(self) -> str:
        return ARTIFACTS_AGGREGATE
