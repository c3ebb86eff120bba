"""Every event type survives encode -> decode, from one sample instance per type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import (
    EVENT_TYPES,
    ArtifactsCollected,
    ArtifactStored,
    Dataset,
    DatasetInput,
    ExperimentCreated,
    ExperimentDeleted,
    ExperimentRenamed,
    ExperimentRestored,
    ExperimentTagDeleted,
    ExperimentTagSet,
    InputsLogged,
    LoggedModelCreated,
    LoggedModelDeleted,
    LoggedModelFinalized,
    LoggedModelParamsLogged,
    LoggedModelTagDeleted,
    LoggedModelTagsSet,
    MetricPoint,
    MetricsLogged,
    ModelAliasDeleted,
    ModelAliasSet,
    ModelInput,
    ModelOutput,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagDeleted,
    ModelVersionTagSet,
    ModelVersionUpdated,
    OutputsLogged,
    Param,
    ParamsLogged,
    Payload,
    PromotionCondition,
    PromotionDecided,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagSet,
    RegisteredModelUpdated,
    RunCreated,
    RunDeleted,
    RunRestored,
    RunTagDeleted,
    RunTagsSet,
    RunUpdated,
    Tag,
    decode,
    encode,
    new_event,
)
from schemas.envelope import Actor

EXP = "1"
RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-0123456789abcdef0123456789abcdef"
NAME = "fraud-classifier"
T0 = 1_717_000_000_000
TAGS = [Tag(key="team", value="risk"), Tag(key="mlflow.note.content", value="ünïcödé ✓")]
PARAMS = [Param(key="lr", value="0.01"), Param(key="depth", value="6")]

SAMPLES: list[Payload] = [
    ExperimentCreated(
        experiment_id=EXP, name="churn", artifact_location="s3://bucket/1", tags=TAGS
    ),
    ExperimentRenamed(experiment_id=EXP, new_name="churn-v2"),
    ExperimentDeleted(experiment_id=EXP),
    ExperimentRestored(experiment_id=EXP),
    ExperimentTagSet(experiment_id=EXP, key="owner", value="ana"),
    ExperimentTagDeleted(experiment_id=EXP, key="owner"),
    RunCreated(
        run_id=RUN,
        experiment_id=EXP,
        user_id="ana",
        run_name="bright-owl-42",
        start_time=T0,
        artifact_uri=f"mlflow-artifacts:/1/{RUN}/artifacts",
        tags=TAGS,
    ),
    RunUpdated(run_id=RUN, status="FINISHED", end_time=T0 + 60_000, run_name=None),
    RunDeleted(run_id=RUN),
    RunRestored(run_id=RUN),
    ParamsLogged(run_id=RUN, params=PARAMS),
    MetricsLogged.of(
        run_id=RUN,
        points=[
            MetricPoint(key="loss", value=0.25, timestamp=T0, step=3),
            MetricPoint(
                key="auc",
                value=-1e-300,
                timestamp=T0 + 1,
                model_id=MODEL,
                dataset_name="val",
                dataset_digest="abc123",
            ),
        ],
    ),
    RunTagsSet(run_id=RUN, tags=TAGS),
    RunTagDeleted(run_id=RUN, key="team"),
    InputsLogged(
        run_id=RUN,
        datasets=[
            DatasetInput(
                dataset=Dataset(
                    name="train",
                    digest="d41d8cd9",
                    source_type="local",
                    source='{"uri": "/data/train.parquet"}',
                    schema='{"mlflow_colspec": []}',
                    profile='{"num_rows": 10}',
                ),
                tags=[Tag(key="mlflow.data.context", value="training")],
            )
        ],
        models=[ModelInput(model_id=MODEL)],
    ),
    OutputsLogged(run_id=RUN, models=[ModelOutput(model_id=MODEL, step=7)]),
    LoggedModelCreated(
        model_id=MODEL,
        experiment_id=EXP,
        name="model",
        artifact_location=f"mlflow-artifacts:/1/models/{MODEL}/artifacts",
        source_run_id=RUN,
        model_type="sklearn",
        creation_time=T0,
        params=PARAMS,
        tags=TAGS,
    ),
    LoggedModelFinalized(model_id=MODEL, status="LOGGED_MODEL_READY"),
    LoggedModelTagsSet(model_id=MODEL, tags=TAGS),
    LoggedModelTagDeleted(model_id=MODEL, key="team"),
    LoggedModelParamsLogged(model_id=MODEL, params=PARAMS),
    LoggedModelDeleted(model_id=MODEL),
    ArtifactStored(run_id=RUN, path="model/MLmodel", size=512, sha256="ab" * 32),
    ArtifactsCollected(paths=["1/old/artifacts/a.bin"], bytes_freed=1 << 40, policy="ttl-90d"),
    RegisteredModelCreated(name=NAME, description="fraud model", tags=TAGS),
    RegisteredModelRenamed(name=NAME, new_name="fraud-clf"),
    RegisteredModelUpdated(name=NAME, description=None),
    RegisteredModelDeleted(name=NAME),
    RegisteredModelTagSet(name=NAME, key="domain", value="payments"),
    RegisteredModelTagDeleted(name=NAME, key="domain"),
    ModelVersionCreated(
        name=NAME,
        source=f"models:/{MODEL}",
        run_id=RUN,
        run_link=None,
        description="first",
        model_id=MODEL,
        tags=TAGS,
    ),
    ModelVersionUpdated(name=NAME, version=2, description="second look"),
    ModelVersionDeleted(name=NAME, version=2),
    ModelVersionStageTransitioned(
        name=NAME, version=1, stage="Production", archive_existing_versions=True
    ),
    ModelVersionTagSet(name=NAME, version=1, key="validated", value="true"),
    ModelVersionTagDeleted(name=NAME, version=1, key="validated"),
    ModelAliasSet(name=NAME, alias="champion", version=1),
    ModelAliasDeleted(name=NAME, alias="champion"),
    PromotionDecided(
        name=NAME,
        version=3,
        target_stage="Production",
        target_alias=None,
        replaced_version=1,
        passed=False,
        conditions=[
            PromotionCondition(
                expression="metrics.auc >= current", candidate=0.91, current=0.93, passed=False
            ),
            PromotionCondition(
                expression="tags.reviewed = 'yes'",
                candidate="yes",
                current=None,
                passed=True,
                detail="reviewed by ana",
            ),
        ],
    ),
]

SAMPLES_BY_TYPE = {sample.TYPE: sample for sample in SAMPLES}
ACTOR = Actor(name="ana@example.com", kind="authenticated")


def test_there_is_exactly_one_sample_per_event_type() -> None:
    types = [sample.TYPE for sample in SAMPLES]
    assert len(types) == len(set(types)), "two samples share a type"
    assert set(types) == set(EVENT_TYPES), (
        f"no sample for {sorted(set(EVENT_TYPES) - set(types))}; "
        f"samples of unknown types {sorted(set(types) - set(EVENT_TYPES))}"
    )


@pytest.mark.parametrize("type_str", sorted(EVENT_TYPES))
def test_round_trip(type_str: str) -> None:
    sample = SAMPLES_BY_TYPE.get(type_str)
    assert sample is not None, f"add a sample of {type_str} to SAMPLES"
    envelope = new_event(
        sample,
        actor=ACTOR,
        source="test",
        occurred_at=datetime(2024, 3, 3, 9, 15, 0, 123456, tzinfo=UTC),
    )
    wire = encode(envelope)

    decoded = decode(wire)

    assert decoded == envelope
    assert type(decoded.payload) is type(sample)
    assert decoded.aggregate == sample.aggregate_id()
    assert encode(decoded) == wire
    assert envelope.model_dump_json().encode() == wire
