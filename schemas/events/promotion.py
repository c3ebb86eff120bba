"""Promotion decisions: whether a model version passed its gate to a stage or alias, and why."""

from __future__ import annotations

from typing import ClassVar

from schemas.events.common import VersionNumber
from schemas.payload import Payload, PayloadPart, Stream


class PromotionCondition(PayloadPart):
    """One gate condition, with the values it compared (a metric, or a param or tag string)."""

    expression: str
    candidate: float | str | None = None
    current: float | str | None = None
    passed: bool
    detail: str | None = None


class PromotionDecided(Payload):
    """A promotion of a model version was evaluated; `passed` says whether it went ahead."""

    TYPE: ClassVar[str] = "promotion.decided"
    STREAM: ClassVar[Stream] = "control"

    name: str
    version: VersionNumber
    target_stage: str | None = None
    target_alias: str | None = None
    replaced_version: VersionNumber | None = None
    passed: bool
    conditions: list[PromotionCondition]

    def aggregate_id(self) -> str:
        return self.name
