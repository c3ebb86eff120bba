"""Upcasters: explicit functions that bring an old payload shape to its type's current version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.catalog import EVENT_TYPES, payload_class

__all__ = ["UPCASTERS", "UpcastError", "missing_upcasters", "upcast", "upcaster"]

PayloadDict = dict[str, Any]
Upcaster = Callable[[PayloadDict], PayloadDict]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(type, from_version) -> function turning that version's payload into from_version + 1's."""


class UpcastError(ValueError):
    """A payload cannot be brought to the current version (too new, or no path)."""


def upcaster(type_str: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the function that upgrades `type_str` payloads from `from_version` by one."""

    def register(fn: Upcaster) -> Upcaster:
        key = (type_str, from_version)
        if key in UPCASTERS:
            raise ValueError(f"two upcasters for {type_str} v{from_version}")
        UPCASTERS[key] = fn
        return fn

    return register


def upcast(type_str: str, version: int, payload: PayloadDict) -> tuple[int, PayloadDict]:
    """Apply upcasters in order until `payload` has its class's current SCHEMA_VERSION.

    Returns (current version, payload). The input dict is not modified.
    """
    current = payload_class(type_str).SCHEMA_VERSION
    if version > current:
        raise UpcastError(f"{type_str} v{version} is newer than this build knows (v{current})")
    if version < 1:
        raise UpcastError(f"{type_str} v{version} is not a valid schema version")
    while version < current:
        step = UPCASTERS.get((type_str, version))
        if step is None:
            raise UpcastError(f"no upcaster from {type_str} v{version}")
        payload = step(payload)
        version += 1
    return version, payload


def missing_upcasters() -> list[tuple[str, int]]:
    """(type, from_version) steps a current event type needs but nobody registered."""
    return [
        (type_str, version)
        for type_str, cls in EVENT_TYPES.items()
        for version in range(1, cls.SCHEMA_VERSION)
        if (type_str, version) not in UPCASTERS
    ]


@upcaster("experiment.created", 1)
def upcast_experiment_created_v1_v2(payload: PayloadDict) -> PayloadDict:
    """v1 carried tags as a JSON object {"k": "v"}; v2 carries [{"key": "k", "value": "v"}]."""
    tags = payload.get("tags")
    if tags is None:
        tags = {}
    if not isinstance(tags, dict):
        raise UpcastError("experiment.created v1 tags must be a JSON object")
    return {**payload, "tags": [{"key": key, "value": value} for key, value in tags.items()]}


@upcaster("metrics.logged", 1)
def upcast_metrics_logged_v1_v2(payload: PayloadDict) -> PayloadDict:
    """v1 carried a list of point objects; v2 carries one column per field."""
    points = payload.get("metrics")
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise UpcastError("metrics.logged v1 metrics must be a list of objects")
    rest = {k: v for k, v in payload.items() if k != "metrics"}
    known = {"key", "value", "timestamp", "step", "model_id", "dataset_name", "dataset_digest"}
    for point in points:
        unknown = set(point) - known
        if unknown:
            raise UpcastError(f"metrics.logged v1 point has unknown field(s): {sorted(unknown)}")

    def optional(field: str) -> list[Any] | None:
        column = [p.get(field) for p in points]
        return column if any(v is not None for v in column) else None

    return {
        **rest,
        "keys": [p.get("key") for p in points],
        "values": [p.get("value") for p in points],
        "timestamps": [p.get("timestamp") for p in points],
        "steps": [p.get("step", 0) for p in points],
        "model_ids": optional("model_id"),
        "dataset_names": optional("dataset_name"),
        "dataset_digests": optional("dataset_digest"),
    }
