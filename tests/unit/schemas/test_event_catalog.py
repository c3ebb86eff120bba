"""The catalog: stable lowercase type strings, one class each, and a stream for every type."""

from __future__ import annotations

import re
from typing import ClassVar

import pytest

from schemas import EVENT_TYPES, Payload, UnknownEventType, payload_class, stream_of
from schemas.catalog import build_catalog
from schemas.payload import Stream

TYPE_PATTERN = re.compile(r"^[a-z_]+\.[a-z_]+$")

DATA_STREAM_TYPES = {
    "params.logged",
    "metrics.logged",
    "run.tags_set",
    "run.tag_deleted",
    "inputs.logged",
    "outputs.logged",
    "artifact.stored",
}


@pytest.mark.parametrize("type_str", sorted(EVENT_TYPES))
def test_type_strings_are_lowercase_noun_dot_verb(type_str: str) -> None:
    assert TYPE_PATTERN.match(type_str), type_str


@pytest.mark.parametrize(("type_str", "cls"), sorted(EVENT_TYPES.items()))
def test_each_class_is_registered_under_its_own_type_and_knows_its_stream(
    type_str: str, cls: type[Payload]
) -> None:
    assert type_str == cls.TYPE
    assert payload_class(type_str) is cls
    assert cls.STREAM in ("control", "data")
    assert stream_of(type_str) == cls.STREAM
    assert isinstance(cls.SCHEMA_VERSION, int) and cls.SCHEMA_VERSION >= 1
    assert "." not in cls.__name__ and cls.__module__ not in type_str


def test_data_stream_holds_exactly_the_high_volume_run_events() -> None:
    assert {t for t, cls in EVENT_TYPES.items() if cls.STREAM == "data"} == DATA_STREAM_TYPES


def test_the_catalog_is_read_only_and_complete() -> None:
    assert len(EVENT_TYPES) == 39
    with pytest.raises(TypeError):
        EVENT_TYPES["x.y"] = Payload  # type: ignore[index]


def test_unknown_types_raise_unknown_event_type() -> None:
    with pytest.raises(UnknownEventType, match=r"'run\.exploded'"):
        payload_class("run.exploded")
    with pytest.raises(UnknownEventType):
        stream_of("")


def _event(type_str: str, name: str) -> type[Payload]:
    class Event(Payload):
        TYPE: ClassVar[str] = type_str
        STREAM: ClassVar[Stream] = "control"

        def aggregate_id(self) -> str:
            return "a"

    Event.__qualname__ = name
    return Event


def test_build_catalog_refuses_duplicate_type_strings() -> None:
    with pytest.raises(ValueError, match=r"'run\.created' is used by both First and Second"):
        build_catalog([_event("run.created", "First"), _event("run.created", "Second")])


def test_build_catalog_refuses_a_class_without_type() -> None:
    class Untyped(Payload):
        STREAM: ClassVar[Stream] = "data"

        def aggregate_id(self) -> str:
            return "a"

    with pytest.raises(TypeError, match="Untyped does not set TYPE"):
        build_catalog([Untyped])
