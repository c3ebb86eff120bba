"""`GET /api/ledgerflow/ui/experiments`: experiments with run counts and last activity.

MLflow's SearchExperiments has neither, and the experiments page needs both in one request:
`{"experiments": [{"experiment_id", "name", "lifecycle_stage", "artifact_location",
"creation_time", "last_update_time", "runs": {"active", "deleted"}, "last_activity"}],
"truncated": bool}`, most recently active first. `view_type` is MLflow's (`ACTIVE_ONLY`,
the default, `DELETED_ONLY`, `ALL`); `max_results` caps the list (default and most 5000).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.gateway.errors import MlflowError
from services.gateway.responses import json_response
from services.gateway.writes import node_of

QUERY = (Path(__file__).parent / "experiments.sql").read_text(encoding="utf-8")
MAX_RESULTS = 5000
STAGES = {
    "ACTIVE_ONLY": ["active"],
    "DELETED_ONLY": ["deleted"],
    "ALL": ["active", "deleted"],
}


def _max_results(text: str | None) -> int:
    if text is None:
        return MAX_RESULTS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_RESULTS:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {text!r} for parameter 'max_results': "
            f"expected an integer from 1 to {MAX_RESULTS}.",
        )
    return value


async def experiments_summary(request: Request) -> Response:
    params = request.query_params
    view_type = params.get("view_type", "ACTIVE_ONLY")
    if view_type not in STAGES:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {view_type!r} for parameter 'view_type': expected one of "
            f"{', '.join(STAGES)}.",
        )
    limit = _max_results(params.get("max_results"))
    rows = await node_of(request).database.pool.fetch(QUERY, STAGES[view_type], limit)
    return json_response(
        {
            "experiments": [
                {
                    "experiment_id": str(r["experiment_id"]),
                    "name": r["name"],
                    "lifecycle_stage": r["lifecycle_stage"],
                    "artifact_location": r["artifact_location"],
                    "creation_time": r["creation_time"],
                    "last_update_time": r["last_update_time"],
                    "runs": {"active": r["active_runs"], "deleted": r["deleted_runs"]},
                    "last_activity": r["last_activity"],
                }
                for r in rows[:limit]
            ],
            "truncated": len(rows) > limit,
        }
    )


routes = [Route("/api/ledgerflow/ui/experiments", experiments_summary, methods=["GET"])]
