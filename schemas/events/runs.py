"""Run events: lifecycle on the control stream; params, metrics, tags, inputs, outputs on data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass

from schemas.events.common import Int64, Param, Tag, WireFloat
from schemas.payload import Payload, PayloadPart, Stream

RunStatus = Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]

MAX_METRICS_PER_EVENT = 1000
"""As MLflow's log-batch: one metrics.logged event holds at most this many points."""

MAX_PARAMS_PER_EVENT = 1000


class RunCreated(Payload):
    """A run was started in an experiment."""

    TYPE: ClassVar[str] = "run.created"
    STREAM: ClassVar[Stream] = "control"

    run_id: str
    experiment_id: str
    user_id: str
    run_name: str
    start_time: Int64
    artifact_uri: str
    tags: list[Tag] = []

    def aggregate_id(self) -> str:
        return self.run_id


class RunUpdated(Payload):
    """A run's status, end time or name changed; None means "unchanged"."""

    TYPE: ClassVar[str] = "run.updated"
    STREAM: ClassVar[Stream] = "control"

    run_id: str
    status: RunStatus | None = None
    end_time: Int64 | None = None
    run_name: str | None = None

    def aggregate_id(self) -> str:
        return self.run_id


class RunDeleted(Payload):
    """A run was soft-deleted."""

    TYPE: ClassVar[str] = "run.deleted"
    STREAM: ClassVar[Stream] = "control"

    run_id: str

    def aggregate_id(self) -> str:
        return self.run_id


class RunRestored(Payload):
    """A deleted run was restored."""

    TYPE: ClassVar[str] = "run.restored"
    STREAM: ClassVar[Stream] = "control"

    run_id: str

    def aggregate_id(self) -> str:
        return self.run_id


class ParamsLogged(Payload):
    """Params were logged to a run (log-parameter, or the params of log-batch)."""

    TYPE: ClassVar[str] = "params.logged"
    STREAM: ClassVar[Stream] = "data"

    run_id: str
    params: Annotated[list[Param], Field(max_length=MAX_PARAMS_PER_EVENT)]

    def aggregate_id(self) -> str:
        return self.run_id


# A slotted pydantic dataclass rather than a BaseModel: this is the one value that comes by the
# thousand, and validating into it is about twice as fast (see schemas/bench_codec.py).
@dataclass(
    frozen=True,
    slots=True,
    kw_only=True,
    config=ConfigDict(extra="forbid", ser_json_inf_nan="strings"),
)
class MetricPoint:
    """One metric value at a (timestamp, step), as in MLflow's Metric message."""

    key: str
    value: WireFloat
    timestamp: Int64
    step: Int64 = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class MetricsLogged(Payload):
    """A batch of 1 to 1000 metric points for one run (log-metric or the metrics of log-batch).

    The points travel as columns: point i is (keys[i], values[i], timestamps[i], steps[i]) with
    model_ids[i], dataset_names[i] and dataset_digests[i] when those columns are present (a
    column no point uses is null). v1 carried a list of point objects; columns take a third of
    the bytes and decode without one object per point (the upcaster turns v1 into v2).
    """

    TYPE: ClassVar[str] = "metrics.logged"
    STREAM: ClassVar[Stream] = "data"
    SCHEMA_VERSION: ClassVar[int] = 2

    run_id: str
    keys: Annotated[list[str], Field(min_length=1, max_length=MAX_METRICS_PER_EVENT)]
    values: list[WireFloat]
    timestamps: list[Int64]
    steps: list[Int64]
    model_ids: list[str | None] | None = None
    dataset_names: list[str | None] | None = None
    dataset_digests: list[str | None] | None = None

    @model_validator(mode="after")
    def _columns_align(self) -> MetricsLogged:
        size = len(self.keys)
        for name in _POINT_COLUMNS[1:]:
            column = getattr(self, name)
            if column is not None and len(column) != size:
                raise ValueError(f"{name} has {len(column)} entries, keys has {size}")
        return self

    @classmethod
    def from_columns(
        cls,
        run_id: str,
        keys: list[str],
        values: list[float],
        timestamps: list[int],
        steps: list[int],
        model_ids: list[str | None] | None = None,
        dataset_names: list[str | None] | None = None,
        dataset_digests: list[str | None] | None = None,
    ) -> MetricsLogged:
        """The event of these columns; an optional column no point uses is left out (null)."""

        def used(column: list[str | None] | None) -> list[str | None] | None:
            return column if column is not None and any(v is not None for v in column) else None

        return cls(
            run_id=run_id,
            keys=keys,
            values=values,
            timestamps=timestamps,
            steps=steps,
            model_ids=used(model_ids),
            dataset_names=used(dataset_names),
            dataset_digests=used(dataset_digests),
        )

    @classmethod
    def of(cls, run_id: str, points: Sequence[MetricPoint]) -> MetricsLogged:
        """The event of ``points``, in their order."""
        return cls.from_columns(
            run_id,
            keys=[p.key for p in points],
            values=[p.value for p in points],
            timestamps=[p.timestamp for p in points],
            steps=[p.step for p in points],
            model_ids=[p.model_id for p in points],
            dataset_names=[p.dataset_name for p in points],
            dataset_digests=[p.dataset_digest for p in points],
        )

    def points(self) -> list[MetricPoint]:
        """The points as values (for readers that want rows; projection uses the columns)."""
        size = len(self.keys)
        none: list[str | None] = [None] * size
        return [
            MetricPoint(
                key=key,
                value=value,
                timestamp=timestamp,
                step=step,
                model_id=model_id,
                dataset_name=dataset_name,
                dataset_digest=dataset_digest,
            )
            for key, value, timestamp, step, model_id, dataset_name, dataset_digest in zip(
                self.keys,
                self.values,
                self.timestamps,
                self.steps,
                self.model_ids or none,
                self.dataset_names or none,
                self.dataset_digests or none,
                strict=True,
            )
        ]

    def aggregate_id(self) -> str:
        return self.run_id


_POINT_COLUMNS = (
    "keys",
    "values",
    "timestamps",
    "steps",
    "model_ids",
    "dataset_names",
    "dataset_digests",
)


class RunTagsSet(Payload):
    """One or many tags were set on a run (set-tag, or the tags of log-batch)."""

    TYPE: ClassVar[str] = "run.tags_set"
    STREAM: ClassVar[Stream] = "data"

    run_id: str
    tags: Annotated[list[Tag], Field(min_length=1)]

    def aggregate_id(self) -> str:
        return self.run_id


class RunTagDeleted(Payload):
    """A tag was removed from a run."""

    TYPE: ClassVar[str] = "run.tag_deleted"
    STREAM: ClassVar[Stream] = "data"

    run_id: str
    key: str

    def aggregate_id(self) -> str:
        return self.run_id


class Dataset(PayloadPart, serialize_by_alias=True):
    """A dataset a run consumed, as in MLflow's Dataset message."""

    name: str
    digest: str
    source_type: str
    source: str
    # `schema` would shadow a BaseModel attribute: construct with `schema=`, read `.schema_`.
    schema_: str | None = Field(default=None, alias="schema")
    profile: str | None = None


class DatasetInput(PayloadPart):
    """A dataset used by a run, with its input tags (e.g. mlflow.data.context)."""

    dataset: Dataset
    tags: list[Tag] = []


class ModelInput(PayloadPart):
    """A logged model a run used as input."""

    model_id: str


class ModelOutput(PayloadPart):
    """A logged model a run produced, at a step."""

    model_id: str
    step: Int64 = 0


class InputsLogged(Payload):
    """Datasets and models were recorded as inputs of a run (log-inputs)."""

    TYPE: ClassVar[str] = "inputs.logged"
    STREAM: ClassVar[Stream] = "data"

    run_id: str
    datasets: list[DatasetInput]
    models: list[ModelInput] = []

    def aggregate_id(self) -> str:
        return self.run_id


class OutputsLogged(Payload):
    """Logged models were recorded as outputs of a run."""

    TYPE: ClassVar[str] = "outputs.logged"
    STREAM: ClassVar[Stream] = "data"

    run_id: str
    models: list[ModelOutput]

    def aggregate_id(self) -> str:
        return self.run_id
