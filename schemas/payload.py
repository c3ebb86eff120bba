"""The payload base class every event type derives from, and the base of the values inside."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal

from pydantic import BaseModel

Stream = Literal["control", "data"]
"""`control`: one totally ordered partition; `data`: partitioned by the payload's aggregate."""


class PayloadPart(
    BaseModel,
    frozen=True,
    extra="forbid",
    ser_json_inf_nan="strings",
    use_attribute_docstrings=True,
):
    """A value nested in a payload (a tag, a param, a dataset...): immutable, no unknown fields.

    `ser_json_inf_nan` is per model in pydantic, so every nested model needs it, not only Payload.
    """


class Payload(
    BaseModel,
    ABC,
    frozen=True,
    extra="forbid",
    ser_json_inf_nan="strings",
    use_attribute_docstrings=True,
):
    """The typed body of an event. Subclasses set TYPE and STREAM and name their aggregate.

    TYPE is the stable wire name (never a class path). SCHEMA_VERSION grows when the shape changes,
    and each step from an older version needs an upcaster (see `schemas.upcasters`).
    """

    TYPE: ClassVar[str]
    STREAM: ClassVar[Stream]
    SCHEMA_VERSION: ClassVar[int] = 1

    @abstractmethod
    def aggregate_id(self) -> str:
        """The entity this event is about; for data-stream events also the partition key."""
