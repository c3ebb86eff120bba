"""Logged-model events (MLflow 3 LoggedModel; control stream; aggregate: model id)."""

from __future__ import annotations

from typing import ClassVar, Literal

from schemas.events.common import Int64, Param, Tag
from schemas.payload import Payload, Stream

LoggedModelStatus = Literal[
    "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED", "LOGGED_MODEL_PENDING"
]


class LoggedModelCreated(Payload):
    """A logged model was created (status PENDING until finalized)."""

    TYPE: ClassVar[str] = "logged_model.created"
    STREAM: ClassVar[Stream] = "control"

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    source_run_id: str | None = None
    model_type: str | None = None
    creation_time: Int64
    params: list[Param] = []
    tags: list[Tag] = []

    def aggregate_id(self) -> str:
        return self.model_id


class LoggedModelFinalized(Payload):
    """A logged model's upload finished (or failed)."""

    TYPE: ClassVar[str] = "logged_model.finalized"
    STREAM: ClassVar[Stream] = "control"

    model_id: str
    status: LoggedModelStatus

    def aggregate_id(self) -> str:
        return self.model_id


class LoggedModelTagsSet(Payload):
    """Tags were set on a logged model."""

    TYPE: ClassVar[str] = "logged_model.tags_set"
    STREAM: ClassVar[Stream] = "control"

    model_id: str
    tags: list[Tag]

    def aggregate_id(self) -> str:
        return self.model_id


class LoggedModelTagDeleted(Payload):
    """A tag was removed from a logged model."""

    TYPE: ClassVar[str] = "logged_model.tag_deleted"
    STREAM: ClassVar[Stream] = "control"

    model_id: str
    key: str

    def aggregate_id(self) -> str:
        return self.model_id


class LoggedModelParamsLogged(Payload):
    """More params were logged to a logged model (beyond the ones it was created with)."""

    TYPE: ClassVar[str] = "logged_model.params_logged"
    STREAM: ClassVar[Stream] = "control"

    model_id: str
    params: list[Param]

    def aggregate_id(self) -> str:
        return self.model_id


class LoggedModelDeleted(Payload):
    """A logged model was deleted."""

    TYPE: ClassVar[str] = "logged_model.deleted"
    STREAM: ClassVar[Stream] = "control"

    model_id: str

    def aggregate_id(self) -> str:
        return self.model_id
