"""Sample event streams for tests: realistic mixes of control and data events."""

from __future__ import annotations

import random

from schemas import (
    Actor,
    Envelope,
    ExperimentTagSet,
    MetricPoint,
    MetricsLogged,
    ParamsLogged,
    Payload,
    RunTagsSet,
    Tag,
    new_event,
)

TEST_ACTOR = Actor(name="test-suite", kind="system")


def mixed_events(count: int, *, seed: int = 7, control_share: float = 0.2) -> list[Envelope]:
    """``count`` events: experiment tag changes on the control topic; metric batches, params and
    run tags spread over 40 runs on the data topic."""
    rng = random.Random(seed)
    events: list[Envelope] = []
    for i in range(count):
        payload: Payload
        if rng.random() < control_share:
            payload = ExperimentTagSet(
                experiment_id=str(rng.randrange(1, 6)), key=f"k{i % 13}", value=f"v{i}"
            )
        else:
            run_id = f"{rng.randrange(40):032x}"
            kind = rng.randrange(3)
            if kind == 0:
                payload = MetricsLogged.of(
                    run_id=run_id,
                    points=[
                        MetricPoint(
                            key="loss", value=rng.random(), timestamp=1_700_000_000_000 + i, step=i
                        )
                        for _ in range(rng.randrange(1, 20))
                    ],
                )
            elif kind == 1:
                payload = ParamsLogged(run_id=run_id, params=[{"key": f"p{i}", "value": str(i)}])
            else:
                payload = RunTagsSet(run_id=run_id, tags=[Tag(key="stage", value=str(i))])
        events.append(new_event(payload, actor=TEST_ACTOR, source="test"))
    return events
