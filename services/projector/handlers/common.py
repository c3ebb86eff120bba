"""Lookups every tracking projection needs: a run's key and state, an experiment's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.projector.verdict import Rejection


def millis(moment: datetime) -> int:
    """Event time in epoch milliseconds: the read models' timestamps derive from it, so a replay
    reproduces them exactly."""
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class RunState:
    run_key: int
    run_id: str
    experiment_id: int
    lifecycle_stage: str
    name: str


async def find_run(conn: asyncpg.Connection, run_id: str) -> RunState:
    row = await conn.fetchrow(
        "SELECT run_key, experiment_id, lifecycle_stage, name FROM runs WHERE run_id = $1",
        run_id,
    )
    if row is None:
        raise Rejection("RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found")
    return RunState(row[0], run_id, row[1], row[2], row[3])


async def active_run(conn: asyncpg.Connection, run_id: str) -> RunState:
    run = await find_run(conn, run_id)
    if run.lifecycle_stage != "active":
        raise Rejection(
            "INVALID_PARAMETER_VALUE",
            f"The run {run_id} must be in the 'active' state. "
            f"Current state is {run.lifecycle_stage}.",
        )
    return run


def experiment_number(experiment_id: str) -> int:
    try:
        return int(experiment_id)
    except ValueError:
        raise Rejection(
            "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={experiment_id} exists"
        ) from None


async def experiment_stage(conn: asyncpg.Connection, experiment_id: str) -> str:
    stage = await conn.fetchval(
        "SELECT lifecycle_stage FROM experiments WHERE experiment_id = $1",
        experiment_number(experiment_id),
    )
    if stage is None:
        raise Rejection("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={experiment_id} exists")
    return str(stage)


async def active_experiment(conn: asyncpg.Connection, experiment_id: str) -> None:
    stage = await experiment_stage(conn, experiment_id)
    if stage != "active":
        raise Rejection(
            "INVALID_PARAMETER_VALUE",
            f"The experiment {experiment_id} must be in the 'active' state. "
            f"Current state is {stage}.",
        )
