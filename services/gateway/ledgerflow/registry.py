"""The registry's past over HTTP: the history of a model or version, the registry as of a moment,
and the promotion decisions `ledgerflow promote` records.

History and as-of are folds of the registry's events read once from the audit log per request
(``services.registry``); nothing here reads the read models. Errors use MLflow's envelope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import takewhile
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from schemas import PromotionDecided
from schemas.envelope import format_time
from services.gateway import validation
from services.gateway.errors import MlflowError
from services.gateway.requests import check_content_type, decode_body
from services.gateway.responses import json_response
from services.gateway.writes import events_for, node_of, submit
from services.registry import (
    HistoryEntry,
    ModelVersion,
    RecordedEvent,
    RegisteredModel,
    RegistryError,
    RegistryState,
    ReplayDivergence,
    as_of,
    canonical_stage,
    history,
    registered_model_json,
    version_json,
)
from services.store.registry import registry_events

PREFIX = "/api/ledgerflow/registry"


def _invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def _diverged(err: ReplayDivergence) -> MlflowError:
    return MlflowError("INTERNAL_ERROR", f"The registry's history cannot be replayed: {err}")


def _version_param(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _invalid(f"Parameter 'version' must be an integer, got '{text}'.") from None
    if number < 1:
        raise _invalid(f"Parameter 'version' must be a positive integer, got '{text}'.")
    return number


# ---------------------------------------------------------------------------------------------
# History


async def model_history(request: Request) -> Response:
    name = request.path_params["name"]
    validation.validate_model_name(name)
    raw_version = request.path_params.get("version")
    version = None if raw_version is None else _version_param(raw_version)
    events = await registry_events(node_of(request).database.pool)
    try:
        entries = history(events, name)
        wanted = {e.seq for e in history(events, name, version)} if version else None
    except ReplayDivergence as err:
        raise _diverged(err) from None
    if not entries:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found")
    if version is not None:
        # The domain's version history, plus events that moved an alias onto or off the
        # version (aliases live on the model, so the domain sees no change to the version).
        entries = [
            e
            for e in entries
            if e.seq in (wanted or ()) or changes(_model(e.before), _model(e.after), version)
        ]
        if not entries:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST",
                f"Model Version (name={name}, version={version}) not found",
            )
    by_seq = {record.seq: record for record in events}
    body: dict[str, Any] = {"name": name}
    if version is not None:
        body["version"] = str(version)
    body["entries"] = [_entry_json(e, by_seq[e.seq], version) for e in entries]
    return json_response(body)


def _model(value: RegisteredModel | ModelVersion | None) -> RegisteredModel | None:
    # The model-level history carries whole models; versions are cut out of them here so that
    # a version's JSON has its aliases, which live on the model.
    return value if isinstance(value, RegisteredModel) else None


def _state_json(model: RegisteredModel | None, version: int | None) -> dict[str, Any] | None:
    if model is None:
        return None
    if version is None:
        return registered_model_json(model)
    return version_json(model, version) if version in model.versions else None


def _entry_json(entry: HistoryEntry, record: RecordedEvent, version: int | None) -> dict[str, Any]:
    before, after = _model(entry.before), _model(entry.after)
    return {
        "seq": entry.seq,
        "event_id": str(entry.event_id),
        "event_type": entry.event_type,
        "occurred_at": format_time(entry.occurred_at),
        "recorded_at": format_time(record.recorded_at) if record.recorded_at else None,
        "actor": {
            "name": entry.actor.name,
            "kind": entry.actor.kind,
            "self_reported": entry.actor.kind == "self_reported",
        },
        "source": record.event.source,
        "verdict": entry.verdict,
        "error_code": entry.error_code,
        "reason": entry.reason,
        "payload": entry.payload,
        "outcome": entry.outcome,
        "before": _state_json(before, version),
        "after": _state_json(after, version),
        "changes": changes(before, after, version),
    }


def changes(
    before: RegisteredModel | None, after: RegisteredModel | None, version: int | None = None
) -> list[dict[str, Any]]:
    """What an event changed, field by field: ``{"field", "before", "after"}`` plus the
    ``version``, tag ``key`` or ``alias`` it concerns; timestamps are left out."""
    found: list[dict[str, Any]] = []

    def add(field: str, was: Any, now: Any, **where: Any) -> None:
        found.append({"field": field, **where, "before": was, "after": now})

    if version is None:
        if before is None or after is None:
            if before is not after:
                add("model", before.name if before else None, after.name if after else None)
            return found
        if before.name != after.name:
            add("name", before.name, after.name)
        if before.description != after.description:
            add("description", before.description, after.description)
        for key in sorted(before.tags.keys() | after.tags.keys()):
            if before.tags.get(key) != after.tags.get(key):
                add("tag", before.tags.get(key), after.tags.get(key), key=key)
    for alias in sorted(
        (before.aliases if before else {}).keys() | (after.aliases if after else {})
    ):
        was = before.aliases.get(alias) if before else None
        now = after.aliases.get(alias) if after else None
        if was != now and (version is None or version in (was, now)):
            add("alias", was, now, alias=alias)
    numbers = (
        [version]
        if version is not None
        else sorted(
            (before.versions.keys() if before else set())
            | (after.versions.keys() if after else set())
        )
    )
    for number in numbers:
        _version_changes(
            number,
            before.versions.get(number) if before else None,
            after.versions.get(number) if after else None,
            add,
        )
    return found


def _version_changes(
    number: int, was: ModelVersion | None, now: ModelVersion | None, add: Callable[..., None]
) -> None:
    if was is None or now is None:
        if now is not None:
            add("version", None, "created", version=number)
        return
    if was.current_stage != now.current_stage:
        if now.deleted:
            add("version", "live", "deleted", version=number)
        else:
            add("stage", was.current_stage, now.current_stage, version=number)
    if was.description != now.description:
        add("version_description", was.description, now.description, version=number)
    for key in sorted(was.tags.keys() | now.tags.keys()):
        if was.tags.get(key) != now.tags.get(key):
            add("version_tag", was.tags.get(key), now.tags.get(key), version=number, key=key)


# ---------------------------------------------------------------------------------------------
# As of


_OFFSET_LOST_IN_QUERY = re.compile(r" (\d\d(:?\d\d)?)$")


def parse_moment(text: str) -> datetime:
    """ISO-8601; a time without an offset is UTC. A `+` decoded to a space in a query string
    (`?as_of=...T10:00:00+01:00` unencoded) is put back."""
    candidate = text.strip()
    if "T" in candidate:
        candidate = _OFFSET_LOST_IN_QUERY.sub(r"+\1", candidate)
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise _invalid(
            f"Invalid as_of time '{text}': expected ISO-8601, e.g. 2024-03-03T09:15:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _seq_param(text: str) -> int:
    try:
        seq = int(text)
    except ValueError:
        raise _invalid(f"Invalid as_of_seq '{text}': expected an audit sequence number") from None
    if seq < 0:
        raise _invalid(f"Invalid as_of_seq '{text}': must be 0 or more")
    return seq


def _time_of(record: RecordedEvent) -> datetime:
    return record.recorded_at if record.recorded_at is not None else record.event.occurred_at


async def registry_state(request: Request) -> Response:
    params = request.query_params
    at_time_text, at_seq_text = params.get("as_of"), params.get("as_of_seq")
    name = params.get("name") or None
    if at_time_text and at_seq_text:
        raise _invalid("Give as_of or as_of_seq, not both.")
    pool = node_of(request).database.pool
    at_time: datetime | None = None
    at_seq: int | None = None
    if at_seq_text:
        at_seq = _seq_param(at_seq_text)
        prefix = await registry_events(pool, up_to_seq=at_seq)
    else:
        if at_time_text:
            at_time = parse_moment(at_time_text)
        events = await registry_events(pool)
        moment = at_time
        prefix = (
            events if moment is None else list(takewhile(lambda r: _time_of(r) <= moment, events))
        )
    last = prefix[-1] if prefix else None
    try:
        state = as_of(prefix, at_seq=last.seq if last else 0)
    except ReplayDivergence as err:
        raise _diverged(err) from None
    if name is not None and name not in state.models:
        when = f"seq {at_seq}" if at_seq is not None else format_time(at_time or datetime.now(UTC))
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found as of {when}"
        )
    return json_response(
        {
            "as_of": {
                "seq": at_seq,
                "time": format_time(at_time) if at_time is not None else None,
            },
            "last_event": None
            if last is None
            else {
                "seq": last.seq,
                "event_type": last.event.type,
                "recorded_at": format_time(_time_of(last)),
            },
            "registered_models": _models_json(state, [name] if name else sorted(state.models)),
        }
    )


def _models_json(state: RegistryState, names: Sequence[str]) -> list[dict[str, Any]]:
    """Each model as MLflow shows it, with all of its live versions under ``model_versions``."""
    found = []
    for name in names:
        model = state.models[name]
        body = registered_model_json(model)
        body["model_versions"] = [
            version_json(model, number)
            for number in sorted(model.versions)
            if not model.versions[number].deleted
        ]
        found.append(body)
    return found


# ---------------------------------------------------------------------------------------------
# Promotion decisions


async def record_promotion(request: Request) -> Response:
    """Record a promotion decision (``promotion.decided``) with its evidence, attributed to the
    request's actor; the projector checks that the version exists. Applying the promotion is a
    separate, ordinary MLflow request."""
    check_content_type(request.headers.get("content-type"))
    body = decode_body(await request.body())
    try:
        payload = PromotionDecided.model_validate(body)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()
        )
        raise _invalid(f"Invalid promotion decision: {problems}") from None
    validation.validate_model_name(payload.name)
    if (payload.target_stage is None) == (payload.target_alias is None):
        raise _invalid("A promotion names exactly one of target_stage and target_alias.")
    if payload.target_stage is not None:
        try:
            stage = canonical_stage(payload.target_stage)
        except RegistryError as err:
            raise _invalid(err.message) from None
        payload = payload.model_copy(update={"target_stage": stage})
    else:
        assert payload.target_alias is not None
        validation.validate_model_alias_name(payload.target_alias)
        validation.validate_model_alias_name_reserved(payload.target_alias)
    if payload.passed != all(c.passed for c in payload.conditions):
        raise _invalid("'passed' must be true exactly when every condition passed.")
    events = events_for(request, [payload])
    verdicts = await submit(request, events)
    event = events[0]
    seq = await node_of(request).database.pool.fetchval(
        "SELECT seq FROM audit_log WHERE event_id = $1", event.event_id
    )
    return json_response(
        {
            "event_id": str(event.event_id),
            "seq": seq,
            "verdict": verdicts[0].label if verdicts else "pending",
            "actor": {
                "name": event.actor.name,
                "kind": event.actor.kind,
                "self_reported": event.actor.kind == "self_reported",
            },
            "promotion": payload.model_dump(mode="json"),
        }
    )


routes = [
    Route(f"{PREFIX}/models/{{name}}/history", model_history, methods=["GET"]),
    Route(f"{PREFIX}/models/{{name}}/versions/{{version}}/history", model_history, methods=["GET"]),
    Route(f"{PREFIX}/state", registry_state, methods=["GET"]),
    Route(f"{PREFIX}/promotions", record_promotion, methods=["POST"]),
]
