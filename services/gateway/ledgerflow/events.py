"""What the log is (for the native SDK) and what became of events (fast-path verdicts)."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from services.gateway.errors import MlflowError
from services.gateway.responses import json_response
from services.gateway.writes import node_of
from services.log.base import TopicPartition
from services.projector import positions
from services.projector.worker import CONSUMER
from services.settings import KafkaSettings

_VERDICT_COLUMNS = (
    "seq, event_id, event_type, aggregate, verdict, error_code, reason, outcome, occurred_at, "
    "recorded_at, topic, partition, log_offset"
)


def _verdict(row: object) -> dict[str, object]:
    record = dict(row)  # type: ignore[call-overload]
    record["event_id"] = str(record["event_id"])
    record["occurred_at"] = record["occurred_at"].isoformat()
    record["recorded_at"] = record["recorded_at"].isoformat()
    return record


async def log_info(request: Request) -> Response:
    """Where producers publish: the backend, topic names and partition counts."""
    node = node_of(request)
    layout = node.event_log.layout
    info: dict[str, object] = {
        "backend": node.core.log_backend,
        "topics": {"control": layout.control, "data": layout.data},
        "data_partitions": layout.data_partitions,
        "partitioner": "murmur2(key = run id)",
    }
    if node.core.log_backend == "kafka":
        info["bootstrap_servers"] = KafkaSettings().bootstrap_servers
    return json_response(info)


async def event_verdict(request: Request) -> Response:
    try:
        event_id = UUID(request.path_params["event_id"])
    except ValueError:
        raise MlflowError("INVALID_PARAMETER_VALUE", "event_id must be a UUID") from None
    row = await node_of(request).database.pool.fetchrow(
        f"SELECT {_VERDICT_COLUMNS} FROM audit_log WHERE event_id = $1", event_id
    )
    if row is None:
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST",
            f"Event {event_id} has no verdict yet (not projected, or never published)",
        )
    return json_response(_verdict(row))


async def rejections(request: Request) -> Response:
    """Rejected events, newest last: what the fast path (and the SDK) could not answer inline.
    Filter by `aggregate` (a run id, experiment id or model name) and page with `after_seq`."""
    params = request.query_params
    try:
        after = int(params.get("after_seq", "0"))
        limit = min(int(params.get("max_results", "1000")), 10_000)
    except ValueError:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", "after_seq and max_results are integers"
        ) from None
    rows = await node_of(request).database.pool.fetch(
        f"SELECT {_VERDICT_COLUMNS} FROM audit_log WHERE verdict = 'rejected' AND seq > $1 "
        "AND ($2::text IS NULL OR aggregate = $2) ORDER BY seq LIMIT $3",
        after,
        params.get("aggregate"),
        limit,
    )
    return json_response({"rejections": [_verdict(r) for r in rows]})


async def projection_lag(request: Request) -> Response:
    """How far the live projector is behind the log, per partition: records appended but not yet
    applied. JSON by default; Prometheus text with `?format=prometheus` (or at /metrics)."""
    node = node_of(request)
    layout = node.event_log.layout
    stored = await positions.load(node.database.pool, CONSUMER)
    partitions = []
    for topic in (layout.control, layout.data):
        for partition, end in sorted((await node.event_log.end_offsets(topic)).items()):
            applied = stored.get(TopicPartition(topic, partition), 0)
            partitions.append(
                {
                    "topic": topic,
                    "partition": partition,
                    "end_offset": end,
                    "applied": applied,
                    "lag": max(0, end - applied),
                }
            )
    if request.query_params.get("format") == "prometheus" or request.url.path == "/metrics":
        lines = [
            "# HELP ledgerflow_projection_lag Records in the log not yet applied by the projector.",
            "# TYPE ledgerflow_projection_lag gauge",
        ]
        lines += [
            f'ledgerflow_projection_lag{{topic="{p["topic"]}",partition="{p["partition"]}"}} '
            f"{p['lag']}"
            for p in partitions
        ]
        lines += [
            "# HELP ledgerflow_log_end_offset Next offset to be written, per partition.",
            "# TYPE ledgerflow_log_end_offset gauge",
        ]
        lines += [
            f'ledgerflow_log_end_offset{{topic="{p["topic"]}",partition="{p["partition"]}"}} '
            f"{p['end_offset']}"
            for p in partitions
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
    return json_response({"partitions": partitions, "total_lag": sum(p["lag"] for p in partitions)})


routes = [
    Route("/api/ledgerflow/lag", projection_lag, methods=["GET"]),
    Route("/metrics", projection_lag, methods=["GET"]),
    Route("/api/ledgerflow/log-info", log_info, methods=["GET"]),
    Route("/api/ledgerflow/events/{event_id}", event_verdict, methods=["GET"]),
    Route("/api/ledgerflow/rejections", rejections, methods=["GET"]),
]
