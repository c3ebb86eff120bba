"""Real data for the BI tests, written through the projector (``Node.submit``): two experiments
with runs, params, tags and metrics (NaN and infinities included), a deleted run, and a registry
story with stages, aliases, a rename, promotion decisions (one passed and applied, one failed),
a deleted version, a rejected event and a model deleted and created again under the same name.

``Facts`` holds what the tests assert against.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from schemas import (
    Actor,
    Envelope,
    ExperimentCreated,
    ExperimentTagSet,
    MetricPoint,
    MetricsLogged,
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagSet,
    Param,
    ParamsLogged,
    Payload,
    PromotionCondition,
    PromotionDecided,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
    RegisteredModelTagSet,
    RunCreated,
    RunDeleted,
    RunTagsSet,
    RunUpdated,
    Tag,
    new_event,
)
from services.node import Node

ALICE = Actor(name="alice", kind="authenticated")
BOB = Actor(name="bob", kind="self_reported")
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in epoch ms
HOUR = 3_600_000


def ev(payload: Payload, actor: Actor = ALICE) -> Envelope:
    return new_event(payload, actor=actor, source="test")


@dataclass
class Facts:
    vision: int = 0
    nlp: int = 0
    runs: dict[str, str] = field(default_factory=dict)
    """run name -> run_id"""
    points_per_run: int = 0
    model: str = "fraud-classifier"
    old_model: str = "classifier"
    seqs: dict[str, int] = field(default_factory=dict)
    """labels of registry events -> their audit seq"""


async def _seq(node: Node, event: Envelope) -> int:
    seq = await node.database.pool.fetchval(
        "SELECT seq FROM ledgerflow.audit_log WHERE event_id = $1", event.event_id
    )
    assert seq is not None
    return int(seq)


async def _submit(node: Node, *events: Envelope) -> None:
    verdicts = await node.submit(list(events))
    assert verdicts is not None


async def fill(node: Node, *, points: int = 200) -> Facts:
    facts = Facts(points_per_run=points)
    pool = node.database.pool
    facts.vision = int(await pool.fetchval("SELECT nextval('ledgerflow.experiment_ids')"))
    facts.nlp = int(await pool.fetchval("SELECT nextval('ledgerflow.experiment_ids')"))
    await _submit(
        node,
        ev(
            ExperimentCreated(
                experiment_id=str(facts.vision),
                name="vision",
                artifact_location=f"mlflow-artifacts:/{facts.vision}",
                tags=[Tag(key="team", value="cv")],
            )
        ),
        ev(
            ExperimentCreated(
                experiment_id=str(facts.nlp),
                name="nlp",
                artifact_location=f"mlflow-artifacts:/{facts.nlp}",
            )
        ),
    )
    await _submit(node, ev(ExperimentTagSet(experiment_id=str(facts.nlp), key="team", value="nl")))

    plan = [  # name, experiment, hours after T0, status, lr
        ("resnet-a", facts.vision, 0, "FINISHED", "0.1"),
        ("resnet-b", facts.vision, 1, "FINISHED", "0.01"),
        ("resnet-c", facts.vision, 5, "RUNNING", "0.001"),
        ("resnet-gone", facts.vision, 6, "FAILED", "1.0"),
        ("bert-a", facts.nlp, 2, "FINISHED", "0.0001"),
    ]
    creations = []
    for name, experiment, hours, _, _ in plan:
        run_id = uuid.uuid4().hex
        facts.runs[name] = run_id
        creations.append(
            ev(
                RunCreated(
                    run_id=run_id,
                    experiment_id=str(experiment),
                    user_id="alice",
                    run_name=name,
                    start_time=T0 + hours * HOUR,
                    artifact_uri=f"mlflow-artifacts:/{experiment}/{run_id}/artifacts",
                    tags=[Tag(key="mlflow.runName", value=name)],
                )
            )
        )
    await _submit(node, *creations)

    data: list[Envelope] = []
    for i, (name, _, hours, _, lr) in enumerate(plan):
        run_id = facts.runs[name]
        data.append(
            ev(
                ParamsLogged(
                    run_id=run_id,
                    params=[Param(key="lr", value=lr), Param(key="epochs", value=str(10 + i))],
                )
            )
        )
        data.append(ev(RunTagsSet(run_id=run_id, tags=[Tag(key="owner", value=f"o{i}")])))
        start = T0 + hours * HOUR
        metrics = [
            MetricPoint(key="loss", value=1.0 / (step + 1) + i, timestamp=start + step, step=step)
            for step in range(points)
        ] + [MetricPoint(key="acc", value=0.5 + 0.1 * i, timestamp=start + points, step=points)]
        data.append(ev(MetricsLogged.of(run_id=run_id, points=metrics)))
    # One run's accuracy diverges: its latest value is NaN; another's score overflows.
    data.append(
        ev(
            MetricsLogged.of(
                run_id=facts.runs["resnet-c"],
                points=[
                    MetricPoint(key="acc", value=float("nan"), timestamp=T0 + 9 * HOUR, step=10**6)
                ],
            )
        )
    )
    data.append(
        ev(
            MetricsLogged.of(
                run_id=facts.runs["bert-a"],
                points=[MetricPoint(key="score", value=float("inf"), timestamp=T0, step=0)],
            )
        )
    )
    await _submit(node, *data)
    await _submit(
        node,
        *[
            ev(RunUpdated(run_id=facts.runs[name], status=status, end_time=T0 + (hours + 1) * HOUR))
            for name, _, hours, status, _ in plan
            if status != "RUNNING"
        ],
    )
    await _submit(node, ev(RunDeleted(run_id=facts.runs["resnet-gone"])))
    await _registry(node, facts)
    return facts


async def _registry(node: Node, facts: Facts) -> None:
    """classifier: v1..v3 from the vision runs; v1 Staging then Production, @champion on v1; a
    passed gate puts v2 in Production (archiving v1) and moves @champion to it; a failed gate
    for v3; renamed fraud-classifier; v3 to Staging; @champion deleted; a refused transition of
    a missing version; v1 deleted. ranker: created, deleted, created again."""
    old, new = facts.old_model, facts.model
    runs = facts.runs

    async def step(label: str, payload: Payload, actor: Actor = ALICE) -> None:
        event = ev(payload, actor)
        await _submit(node, event)
        facts.seqs[label] = await _seq(node, event)

    await step("created", RegisteredModelCreated(name=old, tags=[Tag(key="domain", value="risk")]))
    for n, run in enumerate(("resnet-a", "resnet-b", "resnet-c"), start=1):
        await step(
            f"v{n}",
            ModelVersionCreated(name=old, source=f"runs:/{runs[run]}/model", run_id=runs[run]),
        )
    await step("v1 staging", ModelVersionStageTransitioned(name=old, version=1, stage="Staging"))
    await step(
        "v1 production", ModelVersionStageTransitioned(name=old, version=1, stage="production")
    )
    await step("champion v1", ModelAliasSet(name=old, alias="champion", version=1))
    await step(
        "gate v2",
        PromotionDecided(
            name=old,
            version=2,
            target_stage="Production",
            replaced_version=1,
            passed=True,
            conditions=[
                PromotionCondition(
                    expression="metrics.loss < current.loss",
                    candidate=1.0,
                    current=1.1,
                    passed=True,
                )
            ],
        ),
        BOB,
    )
    await step(
        "v2 production",
        ModelVersionStageTransitioned(
            name=old, version=2, stage="Production", archive_existing_versions=True
        ),
        BOB,
    )
    await step(
        "gate champion v2",
        PromotionDecided(
            name=old,
            version=2,
            target_alias="champion",
            replaced_version=1,
            passed=True,
            conditions=[],
        ),
    )
    await step("champion v2", ModelAliasSet(name=old, alias="champion", version=2))
    await step(
        "gate v3",
        PromotionDecided(
            name=old,
            version=3,
            target_stage="Production",
            replaced_version=2,
            passed=False,
            conditions=[
                PromotionCondition(
                    expression="metrics.acc >= current.acc",
                    candidate=None,
                    current=0.6,
                    passed=False,
                    detail="metric acc is NaN",
                ),
                PromotionCondition(expression="signature", passed=True),
            ],
        ),
    )
    await step("renamed", RegisteredModelRenamed(name=old, new_name=new))
    await step("v3 staging", ModelVersionStageTransitioned(name=new, version=3, stage="Staging"))
    await step("v3 tag", ModelVersionTagSet(name=new, version=3, key="validated", value="true"))
    await step("model tag", RegisteredModelTagSet(name=new, key="owner", value="risk-team"))
    await step("challenger v3", ModelAliasSet(name=new, alias="challenger", version=3))
    await step("champion deleted", ModelAliasDeleted(name=new, alias="champion"))
    await step("refused", ModelVersionStageTransitioned(name=new, version=9, stage="Production"))
    await step("v1 deleted", ModelVersionDeleted(name=new, version=1))
    await step("ranker", RegisteredModelCreated(name="ranker"))
    await step("ranker deleted", RegisteredModelDeleted(name="ranker"))
    await step("ranker again", RegisteredModelCreated(name="ranker"))
