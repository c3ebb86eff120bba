"""Payload rules that need no codec: batch caps, artifact paths and owners, aggregates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import (
    MAX_METRICS_PER_EVENT,
    ArtifactsCollected,
    ArtifactStored,
    Dataset,
    MetricPoint,
    MetricsLogged,
    Param,
    ParamsLogged,
    Payload,
    RunTagsSet,
    Tag,
)

RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-0123456789abcdef0123456789abcdef"
SHA = "0f" * 32


def points(n: int) -> list[MetricPoint]:
    return [MetricPoint(key="loss", value=0.5, timestamp=1, step=i) for i in range(n)]


def test_a_metrics_batch_holds_1_to_1000_points() -> None:
    assert MAX_METRICS_PER_EVENT == 1000
    assert len(MetricsLogged.of(run_id=RUN, points=points(1000)).keys) == 1000

    with pytest.raises(ValidationError, match="at most 1000"):
        MetricsLogged.of(run_id=RUN, points=points(1001))
    with pytest.raises(ValidationError, match="at least 1"):
        MetricsLogged.of(run_id=RUN, points=[])


def test_params_are_capped_at_1000_and_run_tags_need_at_least_one() -> None:
    params = [Param(key=f"p{i}", value="v") for i in range(1001)]
    assert len(ParamsLogged(run_id=RUN, params=params[:1000]).params) == 1000
    with pytest.raises(ValidationError, match="at most 1000"):
        ParamsLogged(run_id=RUN, params=params)
    with pytest.raises(ValidationError, match="at least 1"):
        RunTagsSet(run_id=RUN, tags=[])


def test_metric_point_defaults_and_refuses_unknown_fields() -> None:
    point = MetricPoint(key="acc", value=1, timestamp=5)
    assert (point.step, point.model_id, point.dataset_name, point.dataset_digest) == (
        0,
        None,
        None,
        None,
    )
    assert isinstance(point.value, float)
    with pytest.raises(ValidationError, match="run_id"):
        MetricPoint(key="a", value=1, timestamp=1, run_id=RUN)  # type: ignore[call-arg]


def test_a_metrics_batch_is_columns_of_one_length() -> None:
    batch = MetricsLogged.of(run_id=RUN, points=points(3))
    assert (batch.keys, batch.steps, batch.model_ids) == (["loss"] * 3, [0, 1, 2], None)
    assert batch.points() == points(3)
    with pytest.raises(ValidationError, match="values has 2 entries, keys has 3"):
        MetricsLogged(
            run_id=RUN, keys=["a"] * 3, values=[1.0, 2.0], timestamps=[1] * 3, steps=[0] * 3
        )
    with pytest.raises(ValidationError, match="model_ids has 1 entries"):
        MetricsLogged(
            run_id=RUN,
            keys=["a"] * 2,
            values=[1.0] * 2,
            timestamps=[1] * 2,
            steps=[0] * 2,
            model_ids=["m"],
        )
    with pytest.raises(ValidationError, match="metrics"):
        MetricsLogged.model_validate(
            {"run_id": RUN, "metrics": [{"key": "a", "value": 1, "timestamp": 1}]}
        )


def test_int64_fields_refuse_values_orjson_cannot_write() -> None:
    with pytest.raises(ValidationError, match="timestamp"):
        MetricPoint(key="a", value=1.0, timestamp=2**63)


def test_payloads_and_their_parts_are_frozen() -> None:
    tags = RunTagsSet(run_id=RUN, tags=[Tag(key="k", value="v")])
    with pytest.raises(ValidationError, match="frozen"):
        tags.run_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        tags.tags[0].value = "w"  # type: ignore[misc]


def test_dataset_schema_uses_the_mlflow_wire_name() -> None:
    dataset = Dataset(name="d", digest="x", source_type="local", source="s", schema="{}")

    assert dataset.schema_ == "{}"
    assert dataset.model_dump()["schema"] == "{}"
    assert Dataset.model_validate(dataset.model_dump()) == dataset


@pytest.mark.parametrize(
    ("run_id", "model_id", "aggregate"),
    [(RUN, None, RUN), (None, MODEL, MODEL), (RUN, MODEL, RUN)],
)
def test_artifact_stored_is_keyed_by_its_run_else_its_model(
    run_id: str | None, model_id: str | None, aggregate: str
) -> None:
    stored = ArtifactStored(run_id=run_id, model_id=model_id, path="a/b.txt", size=1, sha256=SHA)
    assert stored.aggregate_id() == aggregate


def test_artifact_stored_needs_an_owner() -> None:
    with pytest.raises(ValidationError, match="one of run_id and model_id"):
        ArtifactStored(path="a", size=1, sha256=SHA)


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../x", "a/../../x", "./a", "a//b", "a/", "."])
def test_artifact_paths_are_normalized_and_relative(path: str) -> None:
    with pytest.raises(ValidationError, match="relative path"):
        ArtifactStored(run_id=RUN, path=path, size=1, sha256=SHA)


@pytest.mark.parametrize("sha256", ["AB" * 32, "ab" * 31, "zz" * 32])
def test_artifact_sha256_is_64_lowercase_hex(sha256: str) -> None:
    with pytest.raises(ValidationError, match="sha256"):
        ArtifactStored(run_id=RUN, path="a", size=1, sha256=sha256)


def test_store_wide_artifact_events_share_one_aggregate() -> None:
    collected = ArtifactsCollected(paths=[], bytes_freed=0, policy="ttl")
    assert collected.aggregate_id() == "artifacts"


def test_the_payload_base_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Payload()  # type: ignore[abstract]
