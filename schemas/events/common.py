"""Small values shared by several domains: tags, params, and the wire's number types."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, WithJsonSchema

from schemas.payload import PayloadPart

Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
"""MLflow's int64 (timestamps in ms since the epoch, steps): anything bigger breaks orjson."""

Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""A size or a number of bytes."""

VersionNumber = Annotated[int, Field(ge=1)]
"""A registered model's version number, assigned by the projector from 1."""

WireFloat = Annotated[
    float,
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}],
            "description": "A double; non-finite values travel as strings, as in MLflow's JSON.",
        }
    ),
]
"""A double that may be NaN or infinite: "NaN", "Infinity", "-Infinity" on the wire."""


class Tag(PayloadPart):
    """A key/value tag (experiment, run, logged model, registered model, version, input)."""

    key: str
    value: str


class Param(PayloadPart):
    """A run or logged-model parameter; MLflow keeps params as strings."""

    key: str
    value: str
