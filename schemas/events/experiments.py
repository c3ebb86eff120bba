"""Experiment lifecycle events (control stream; aggregate: experiment id)."""

from __future__ import annotations

from typing import ClassVar

from schemas.events.common import Tag
from schemas.payload import Payload, Stream


class ExperimentCreated(Payload):
    """An experiment was created.

    v2 carries tags as a list of {key, value}; v1 carried a JSON object (see the upcaster).
    """

    TYPE: ClassVar[str] = "experiment.created"
    STREAM: ClassVar[Stream] = "control"
    SCHEMA_VERSION: ClassVar[int] = 2

    experiment_id: str
    name: str
    artifact_location: str
    tags: list[Tag] = []

    def aggregate_id(self) -> str:
        return self.experiment_id


class ExperimentRenamed(Payload):
    """An experiment was given a new name."""

    TYPE: ClassVar[str] = "experiment.renamed"
    STREAM: ClassVar[Stream] = "control"

    experiment_id: str
    new_name: str

    def aggregate_id(self) -> str:
        return self.experiment_id


class ExperimentDeleted(Payload):
    """An experiment was soft-deleted (lifecycle_stage becomes "deleted")."""

    TYPE: ClassVar[str] = "experiment.deleted"
    STREAM: ClassVar[Stream] = "control"

    experiment_id: str

    def aggregate_id(self) -> str:
        return self.experiment_id


class ExperimentRestored(Payload):
    """A deleted experiment was restored."""

    TYPE: ClassVar[str] = "experiment.restored"
    STREAM: ClassVar[Stream] = "control"

    experiment_id: str

    def aggregate_id(self) -> str:
        return self.experiment_id


class ExperimentTagSet(Payload):
    """A tag was set on an experiment (added or overwritten)."""

    TYPE: ClassVar[str] = "experiment.tag_set"
    STREAM: ClassVar[Stream] = "control"

    experiment_id: str
    key: str
    value: str

    def aggregate_id(self) -> str:
        return self.experiment_id


class ExperimentTagDeleted(Payload):
    """A tag was removed from an experiment."""

    TYPE: ClassVar[str] = "experiment.tag_deleted"
    STREAM: ClassVar[Stream] = "control"

    experiment_id: str
    key: str

    def aggregate_id(self) -> str:
        return self.experiment_id
