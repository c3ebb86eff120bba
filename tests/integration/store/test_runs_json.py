"""Full runs as the JSON text PostgreSQL writes: MLflow's shape, field for field, with unset
fields omitted, in the order asked for."""

from __future__ import annotations

import json
import math

import asyncpg

from schemas import (
    Dataset,
    DatasetInput,
    InputsLogged,
    MetricsLogged,
    ModelInput,
    ModelOutput,
    OutputsLogged,
    Param,
    ParamsLogged,
    RunTagsSet,
    RunUpdated,
    Tag,
)
from services.store import tracking
from tests.support.projecting import Projecting

MAX_FLOAT = 1.7976931348623157e308


async def _key(conn: asyncpg.Connection, run_id: str) -> int:
    key = await tracking.run_key_of(conn, run_id)
    assert key is not None
    return key


def _info(run_id: str, **times: int) -> dict[str, object]:
    return {
        "run_id": run_id,
        "run_uuid": run_id,
        "run_name": run_id[:6],
        "experiment_id": "1",
        "user_id": "u",
        "status": "FINISHED" if "end_time" in times else "RUNNING",
        "artifact_uri": "/a",
        "lifecycle_stage": "active",
        **times,
    }


def _run_name(run_id: str) -> dict[str, str]:
    return {"key": "mlflow.runName", "value": run_id[:6]}


async def test_runs_json_is_mlflows_shape(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        project = Projecting(conn)
        full, bare = await project.run(), await project.run()
        await project.batch(
            ParamsLogged(
                run_id=full, params=[Param(key="b", value="2"), Param(key="a", value="1")]
            ),
            RunTagsSet(run_id=full, tags=[Tag(key="t", value='q"uote')]),
            MetricsLogged(
                run_id=full,
                keys=["loss", "up", "down", "acc"],
                values=[math.nan, math.inf, -math.inf, 0.25],
                timestamps=[5, 6, 7, 8],
                steps=[1, 2, 3, 4],
            ),
            InputsLogged(
                run_id=full,
                datasets=[
                    DatasetInput(
                        dataset=Dataset.model_validate(
                            {
                                "name": "train",
                                "digest": "d1",
                                "source_type": "local",
                                "source": "/s",
                                "schema": '{"x": 1}',
                            }
                        ),
                        tags=[Tag(key="mlflow.data.context", value="training")],
                    ),
                    DatasetInput(
                        dataset=Dataset(name="eval", digest="d2", source_type="s3", source="s3://b")
                    ),
                ],
                models=[ModelInput(model_id="m-in")],
            ),
            OutputsLogged(
                run_id=full,
                models=[ModelOutput(model_id="m-2", step=5), ModelOutput(model_id="m-1", step=3)],
            ),
            RunUpdated(run_id=full, status="FINISHED", end_time=10),
        )
        keys = [await _key(conn, bare), await _key(conn, full), 10**12]
        text = await tracking.runs_json(conn, keys)

    expected_full = {
        "info": _info(full, start_time=1, end_time=10),
        "data": {
            "metrics": [
                {"key": "acc", "value": 0.25, "timestamp": 8, "step": 4},
                {"key": "down", "value": -MAX_FLOAT, "timestamp": 7, "step": 3},
                {"key": "loss", "value": "NaN", "timestamp": 5, "step": 1},
                {"key": "up", "value": MAX_FLOAT, "timestamp": 6, "step": 2},
            ],
            "params": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
            "tags": [_run_name(full), {"key": "t", "value": 'q"uote'}],
        },
        "inputs": {
            "dataset_inputs": [
                {
                    "dataset": {
                        "name": "train",
                        "digest": "d1",
                        "source_type": "local",
                        "source": "/s",
                        "schema": '{"x": 1}',
                    },
                    "tags": [{"key": "mlflow.data.context", "value": "training"}],
                },
                {
                    "dataset": {
                        "name": "eval",
                        "digest": "d2",
                        "source_type": "s3",
                        "source": "s3://b",
                    }
                },
            ],
            "model_inputs": [{"model_id": "m-in"}],
        },
        "outputs": {
            "model_outputs": [{"model_id": "m-1", "step": 3}, {"model_id": "m-2", "step": 5}]
        },
    }
    expected_bare = {
        "info": _info(bare, start_time=1),
        "data": {"tags": [_run_name(bare)]},
        "inputs": {},
        "outputs": {},
    }
    assert json.loads(text) == [expected_bare, expected_full]


async def test_no_runs_is_an_empty_array(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await tracking.runs_json(conn, []) == "[]"
        assert await tracking.runs_json(conn, [10**12]) == "[]"
