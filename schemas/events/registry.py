"""Model registry events: models, versions, stages, aliases (control; aggregate: model name)."""

from __future__ import annotations

from typing import ClassVar

from schemas.events.common import Tag, VersionNumber
from schemas.payload import Payload, Stream


class RegisteredModelCreated(Payload):
    """A registered model was created."""

    TYPE: ClassVar[str] = "registered_model.created"
    STREAM: ClassVar[Stream] = "control"

    name: str
    description: str | None = None
    tags: list[Tag] = []

    def aggregate_id(self) -> str:
        return self.name


class RegisteredModelRenamed(Payload):
    """A registered model was renamed; its versions follow it."""

    TYPE: ClassVar[str] = "registered_model.renamed"
    STREAM: ClassVar[Stream] = "control"

    name: str
    new_name: str

    def aggregate_id(self) -> str:
        return self.name


class RegisteredModelUpdated(Payload):
    """A registered model's description changed."""

    TYPE: ClassVar[str] = "registered_model.updated"
    STREAM: ClassVar[Stream] = "control"

    name: str
    description: str | None = None

    def aggregate_id(self) -> str:
        return self.name


class RegisteredModelDeleted(Payload):
    """A registered model and all its versions were deleted."""

    TYPE: ClassVar[str] = "registered_model.deleted"
    STREAM: ClassVar[Stream] = "control"

    name: str

    def aggregate_id(self) -> str:
        return self.name


class RegisteredModelTagSet(Payload):
    """A tag was set on a registered model."""

    TYPE: ClassVar[str] = "registered_model.tag_set"
    STREAM: ClassVar[Stream] = "control"

    name: str
    key: str
    value: str

    def aggregate_id(self) -> str:
        return self.name


class RegisteredModelTagDeleted(Payload):
    """A tag was removed from a registered model."""

    TYPE: ClassVar[str] = "registered_model.tag_deleted"
    STREAM: ClassVar[Stream] = "control"

    name: str
    key: str

    def aggregate_id(self) -> str:
        return self.name


class ModelVersionCreated(Payload):
    """A new version of a registered model was requested.

    There is no version field: the projector assigns the next number, never reusing one.
    """

    TYPE: ClassVar[str] = "model_version.created"
    STREAM: ClassVar[Stream] = "control"

    name: str
    source: str
    run_id: str | None = None
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None
    tags: list[Tag] = []

    def aggregate_id(self) -> str:
        return self.name


class ModelVersionUpdated(Payload):
    """A model version's description changed."""

    TYPE: ClassVar[str] = "model_version.updated"
    STREAM: ClassVar[Stream] = "control"

    name: str
    version: VersionNumber
    description: str | None = None

    def aggregate_id(self) -> str:
        return self.name


class ModelVersionDeleted(Payload):
    """A model version was deleted; its number is never reused."""

    TYPE: ClassVar[str] = "model_version.deleted"
    STREAM: ClassVar[Stream] = "control"

    name: str
    version: VersionNumber

    def aggregate_id(self) -> str:
        return self.name


class ModelVersionStageTransitioned(Payload):
    """A model version moved to a stage, optionally archiving the others in that stage."""

    TYPE: ClassVar[str] = "model_version.stage_transitioned"
    STREAM: ClassVar[Stream] = "control"

    name: str
    version: VersionNumber
    stage: str
    archive_existing_versions: bool = False

    def aggregate_id(self) -> str:
        return self.name


class ModelVersionTagSet(Payload):
    """A tag was set on a model version."""

    TYPE: ClassVar[str] = "model_version.tag_set"
    STREAM: ClassVar[Stream] = "control"

    name: str
    version: VersionNumber
    key: str
    value: str

    def aggregate_id(self) -> str:
        return self.name


class ModelVersionTagDeleted(Payload):
    """A tag was removed from a model version."""

    TYPE: ClassVar[str] = "model_version.tag_deleted"
    STREAM: ClassVar[Stream] = "control"

    name: str
    version: VersionNumber
    key: str

    def aggregate_id(self) -> str:
        return self.name


class ModelAliasSet(Payload):
    """An alias now points at a version (moving it from any other version)."""

    TYPE: ClassVar[str] = "model_alias.set"
    STREAM: ClassVar[Stream] = "control"

    name: str
    alias: str
    version: VersionNumber

    def aggregate_id(self) -> str:
        return self.name


class ModelAliasDeleted(Payload):
    """An alias was removed from a registered model."""

    TYPE: ClassVar[str] = "model_alias.deleted"
    STREAM: ClassVar[Stream] = "control"

    name: str
    alias: str

    def aggregate_id(self) -> str:
        return self.name
