"""The write path: publish events, wait for the projector's verdict, answer MLflow's error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request

from schemas import Envelope, Payload, new_event
from services.gateway.actor import actor_of
from services.gateway.errors import MlflowError
from services.gateway.verdicts import VerdictTimeout
from services.node import Node
from services.projector.verdict import Verdict

FAST_PATH_HEADER = "x-ledgerflow-ack"
"""`x-ledgerflow-ack: log` answers once the log has the events, before projection."""


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def events_for(
    request: Request, payloads: Sequence[Payload], self_reported: str | None = None
) -> list[Envelope]:
    actor = actor_of(request, self_reported)
    return [new_event(p, actor=actor, source="gateway") for p in payloads]


Rephrase = Callable[[Verdict], MlflowError | None]


async def submit(
    request: Request, events: Sequence[Envelope], rephrase: Rephrase | None = None
) -> list[Verdict]:
    """Publish and wait; the first rejection becomes the MLflow error of the response
    (``rephrase`` may word it for the endpoint, e.g. log-parameter's own message)."""
    node = node_of(request)
    wait = request.headers.get(FAST_PATH_HEADER, "").lower() != "log"
    try:
        verdicts = await node.submit(events, wait=wait)
    except VerdictTimeout as err:
        raise MlflowError(
            "TEMPORARILY_UNAVAILABLE",
            f"The write was recorded but not yet applied ({err}); it will be applied when the "
            "projector catches up.",
        ) from err
    if verdicts is None:
        return []
    ordered = [verdicts[e.event_id] for e in events]
    for verdict in ordered:
        if not verdict.accepted:
            error = rephrase(verdict) if rephrase else None
            raise error or MlflowError(
                verdict.error_code or "INTERNAL_ERROR", verdict.reason or "rejected"
            )
    return ordered


async def write(
    request: Request,
    *payloads: Payload,
    self_reported: str | None = None,
    rephrase: Rephrase | None = None,
) -> list[Verdict]:
    return await submit(request, events_for(request, payloads, self_reported), rephrase)


def outcome(verdicts: Sequence[Verdict], index: int = 0) -> dict[str, Any]:
    return verdicts[index].outcome or {} if verdicts else {}
