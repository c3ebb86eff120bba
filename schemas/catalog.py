"""The catalog of event types: stable type string -> payload class, and each type's stream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType, ModuleType

from schemas.events import artifacts, experiments, logged_models, promotion, registry, runs
from schemas.payload import Payload, Stream

__all__ = ["EVENT_TYPES", "UnknownEventType", "build_catalog", "payload_class", "stream_of"]

_EVENT_MODULES: tuple[ModuleType, ...] = (
    experiments,
    runs,
    logged_models,
    artifacts,
    registry,
    promotion,
)


class UnknownEventType(LookupError):
    """No payload class is registered for this type string."""

    def __init__(self, type_str: str) -> None:
        super().__init__(f"unknown event type {type_str!r}")
        self.type_str = type_str


def _payload_classes(modules: Iterable[ModuleType]) -> list[type[Payload]]:
    """Every Payload subclass defined (not merely imported) in the given modules."""
    return [
        obj
        for module in modules
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Payload)
        and obj is not Payload
        and obj.__module__ == module.__name__
    ]


def build_catalog(classes: Iterable[type[Payload]]) -> Mapping[str, type[Payload]]:
    """Index payload classes by TYPE; refuse a class without TYPE/STREAM or a duplicate TYPE."""
    catalog: dict[str, type[Payload]] = {}
    for cls in classes:
        type_str = getattr(cls, "TYPE", None)
        if not isinstance(type_str, str):
            raise TypeError(f"{cls.__qualname__} does not set TYPE")
        if getattr(cls, "STREAM", None) not in ("control", "data"):
            raise TypeError(f"{cls.__qualname__} does not set STREAM to 'control' or 'data'")
        if type_str in catalog:
            raise ValueError(
                f"event type {type_str!r} is used by both "
                f"{catalog[type_str].__qualname__} and {cls.__qualname__}"
            )
        catalog[type_str] = cls
    return MappingProxyType(dict(sorted(catalog.items())))


EVENT_TYPES: Mapping[str, type[Payload]] = build_catalog(_payload_classes(_EVENT_MODULES))


def payload_class(type_str: str) -> type[Payload]:
    """The payload class for a type string; raises UnknownEventType."""
    try:
        return EVENT_TYPES[type_str]
    except KeyError:
        raise UnknownEventType(type_str) from None


def stream_of(type_str: str) -> Stream:
    """Which topic an event type travels on; raises UnknownEventType."""
    return payload_class(type_str).STREAM
