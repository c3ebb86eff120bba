"""A node in the embedded default: publish, project in-process, and read the verdict back."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from schemas import ExperimentCreated, new_event
from services.node import Node
from services.settings import CoreSettings
from tests.samples import TEST_ACTOR, mixed_events


async def test_submit_waits_for_the_projectors_verdict(db_dsn: str, tmp_path: Path) -> None:
    core = CoreSettings(
        data_dir=tmp_path, database_url=SecretStr(db_dsn), topic_prefix="node", data_partitions=3
    )
    node = Node(core, verdict_timeout=20)
    await node.start()
    try:
        events = mixed_events(120)
        verdicts = await node.submit(events)
        assert verdicts is not None
        assert set(verdicts) == {e.event_id for e in events}
        # nothing the sample refers to exists, so every event is rejected, with its reason
        assert all(v.error_code == "RESOURCE_DOES_NOT_EXIST" for v in verdicts.values())
        experiment = await node.submit(
            [
                new_event(
                    ExperimentCreated(
                        experiment_id="7", name="seven", artifact_location="mlflow-artifacts:/7"
                    ),
                    actor=TEST_ACTOR,
                    source="test",
                )
            ]
        )
        assert experiment is not None and all(v.accepted for v in experiment.values())
        # read-your-writes: the audit rows are there when submit returns
        count = await node.database.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE event_type <> 'experiment.created'"
        )
        assert count == 120
        assert await node.submit(mixed_events(5, seed=3), wait=False) is None
    finally:
        await node.close()
