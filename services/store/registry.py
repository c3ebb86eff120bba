"""Registry read queries: registered models and versions as MLflow's JSON, searches, the
registry's events from the audit log, and the models' aggregate state for the projector.

JSON is rendered by ``services.registry.views`` from domain values built from the rows, so a
version reads the same whether it comes from here or from a fold of the log. Lookups that find
nothing raise ``RegistryError`` with MLflow's code and message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg

from schemas import decode
from services.registry import (
    REGISTRY_EVENT_TYPES,
    STAGE_DELETED_INTERNAL,
    ModelVersion,
    RecordedEvent,
    RegisteredModel,
    RegistryState,
    VersionScope,
    canonical_stage,
    model_version_json,
    registered_model_json,
)
from services.registry.errors import (
    alias_not_found,
    latest_not_found,
    model_not_found,
    version_not_found,
)
from services.search.registry import (
    ModelVersionSearch,
    RegisteredModelSearch,
    compile_model_version_search,
    compile_registered_model_search,
)

Queryable: TypeAlias = asyncpg.Connection | asyncpg.Pool

_MODEL_COLUMNS = (
    "name, creation_timestamp, last_updated_timestamp, user_id, description, last_version"
)
_VERSION_COLUMNS = (
    "name, version, creation_timestamp, last_updated_timestamp, user_id, description, "
    "current_stage, source, run_id, run_link, model_id, status"
)


def _model_extras(model: str) -> str:
    """Select-list items giving the tags and aliases of the model row ``model`` (a table alias)
    as JSON objects in key order (NULL for none): the row and its tags in one query."""
    return (
        "(SELECT json_object_agg(t.key, t.value ORDER BY t.key) FROM registered_model_tags t "
        f"WHERE t.name = {model}.name) AS tags, "
        "(SELECT json_object_agg(a.alias, a.version ORDER BY a.alias) "
        f"FROM registered_model_aliases a WHERE a.name = {model}.name) AS aliases"
    )


def _version_tags(version: str) -> str:
    """A select-list item giving the tags of the version row ``version`` (a table alias), as
    ``_model_extras`` does for models."""
    return (
        "(SELECT json_object_agg(t.key, t.value ORDER BY t.key) FROM model_version_tags t "
        f"WHERE t.name = {version}.name AND t.version = {version}.version) AS tags"
    )


def _json_object(value: dict[str, Any] | None) -> dict[str, Any]:
    """A JSON object column, decoded by the codec every connection gets (``init_connection``);
    None (no tags, no aliases) is an empty one."""
    return {} if value is None else value


def _version(row: asyncpg.Record) -> ModelVersion:
    """The version of a row selected with ``_version_tags``."""
    return ModelVersion(
        version=row["version"],
        creation_timestamp=row["creation_timestamp"],
        last_updated_timestamp=row["last_updated_timestamp"],
        user_id=row["user_id"],
        description=row["description"],
        current_stage=row["current_stage"],
        source=row["source"],
        run_id=row["run_id"],
        run_link=row["run_link"],
        model_id=row["model_id"],
        status=row["status"],
        tags=_json_object(row["tags"]),
    )


def _model(row: asyncpg.Record, versions: dict[int, ModelVersion]) -> RegisteredModel:
    """The model of a row selected with ``_model_extras``, with ``versions``."""
    return RegisteredModel(
        name=row["name"],
        creation_timestamp=row["creation_timestamp"],
        last_updated_timestamp=row["last_updated_timestamp"],
        user_id=row["user_id"],
        description=row["description"],
        tags=_json_object(row["tags"]),
        aliases=_json_object(row["aliases"]),
        versions=versions,
        last_version=row["last_version"],
    )


# The names' advisory locks, in the order of $1 (sorted), before anything is read: the
# materialized CTE runs whole when the scan's one-time filter first asks for it.
_NAME_LOCKS = """WITH name_locks AS MATERIALIZED (
    SELECT pg_advisory_xact_lock(hashtext('registry:' || n)) FROM unnest($1::text[]) AS n)"""
_AFTER_NAME_LOCKS = "(SELECT count(*) FROM name_locks) >= 0 ORDER BY name FOR UPDATE OF m"


async def load_state(
    conn: Queryable,
    names: Sequence[str] | None = None,
    *,
    lock: bool = False,
    versions: VersionScope | None = None,
) -> RegistryState:
    """The registry's aggregate state from the read model: the models named ``names`` (those
    that exist), or every model; with all their versions, or only those in ``versions``.
    ``lock`` (with ``names``) takes, in the caller's transaction and in the same statement, an
    advisory lock on each name, in name order (it holds names not yet taken too), and then the
    models' rows FOR UPDATE."""
    where = "" if names is None else "WHERE m.name = ANY($1::text[])"
    args: list[Any] = [] if names is None else [sorted(set(names))]
    select = f"SELECT {_MODEL_COLUMNS}, {_model_extras('m')} FROM registered_models m"
    if lock:
        if names is None:
            raise ValueError("lock needs the names to lock")
        rows = await conn.fetch(f"{_NAME_LOCKS} {select} {where} AND {_AFTER_NAME_LOCKS}", *args)
    else:
        rows = await conn.fetch(f"{select} {where} ORDER BY name", *args)
    found = [r["name"] for r in rows]
    if not found:
        return RegistryState()
    version_rows = []
    if versions is None:
        version_rows = await conn.fetch(
            f"SELECT {_VERSION_COLUMNS}, {_version_tags('v')} FROM model_versions v "
            "WHERE v.name = ANY($1::text[]) ORDER BY name, version",
            found,
        )
    elif versions.numbers or versions.stage:  # an empty scope needs no query
        version_rows = await conn.fetch(
            f"SELECT {_VERSION_COLUMNS}, {_version_tags('v')} FROM model_versions v "
            "WHERE v.name = ANY($1::text[]) "
            "AND (v.version = ANY($2::int[]) OR v.current_stage = $3) ORDER BY name, version",
            found,
            sorted(versions.numbers),
            versions.stage,
        )
    by_model: dict[str, dict[int, ModelVersion]] = defaultdict(dict)
    for r in version_rows:
        by_model[r["name"]][r["version"]] = _version(r)
    return RegistryState(models={r["name"]: _model(r, by_model[r["name"]]) for r in rows})


# ---------------------------------------------------------------------------------------------
# MLflow's JSON


async def _latest_versions(conn: Queryable, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
    """Each model's highest live version per stage, ordered as MLflow lists them (stages by their
    lowest live version)."""
    rows = await conn.fetch(
        f"""SELECT latest.*, {_version_tags("latest")} FROM (
              SELECT DISTINCT ON (name, current_stage) {_VERSION_COLUMNS},
                     min(version) OVER (PARTITION BY name, current_stage) AS first_in_stage
                FROM model_versions
               WHERE name = ANY($1::text[]) AND current_stage <> '{STAGE_DELETED_INTERNAL}'
               ORDER BY name, current_stage, version DESC) latest
            ORDER BY name, first_in_stage""",
        list(names),
    )
    latest: dict[str, list[ModelVersion]] = defaultdict(list)
    for r in rows:
        latest[r["name"]].append(_version(r))
    return latest


async def registered_models_json(conn: Queryable, names: Sequence[str]) -> list[dict[str, Any]]:
    """Registered models in the order of ``names`` (missing ones skipped), with their latest
    versions, tags and aliases; a fixed number of queries whatever the number of models."""
    rows = await conn.fetch(
        f"SELECT {_MODEL_COLUMNS}, {_model_extras('m')} FROM registered_models m "
        "WHERE m.name = ANY($1::text[])",
        list(names),
    )
    latest = await _latest_versions(conn, [r["name"] for r in rows])
    by_name = {r["name"]: registered_model_json(_model(r, {}), latest[r["name"]]) for r in rows}
    return [by_name[name] for name in names if name in by_name]


async def model_versions_json(
    conn: Queryable, keys: Sequence[tuple[str, int]], *, with_aliases: bool = True
) -> list[dict[str, Any]]:
    """Live versions in the order of ``keys`` ((name, version) pairs; missing ones skipped),
    with their aliases unless ``with_aliases`` is false (MLflow's search leaves them out)."""
    names = [name for name, _ in keys]
    numbers = [number for _, number in keys]
    rows = await conn.fetch(
        f"SELECT {_VERSION_COLUMNS}, {_version_tags('v')} FROM model_versions v "
        "JOIN unnest($1::text[], $2::int[]) AS p(name, version) USING (name, version) "
        f"WHERE v.current_stage <> '{STAGE_DELETED_INTERNAL}'",
        names,
        numbers,
    )
    aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
    alias_rows = (
        await conn.fetch(
            "SELECT a.name, a.version, a.alias FROM registered_model_aliases a "
            "JOIN unnest($1::text[], $2::int[]) AS p(name, version) USING (name, version) "
            "ORDER BY a.alias",
            names,
            numbers,
        )
        if with_aliases
        else []
    )
    for r in alias_rows:
        aliases[(r["name"], r["version"])].append(r["alias"])
    by_key = {
        (r["name"], r["version"]): model_version_json(
            r["name"],
            _version(r),
            aliases.get((r["name"], r["version"]), []),
        )
        for r in rows
    }
    return [by_key[key] for key in keys if key in by_key]


async def registered_model(conn: Queryable, name: str) -> dict[str, Any] | None:
    """GetRegisteredModel's ``registered_model``; None if there is no such model."""
    found = await registered_models_json(conn, [name])
    return found[0] if found else None


async def model_version(conn: Queryable, name: str, version: int) -> dict[str, Any] | None:
    """GetModelVersion's ``model_version``; None if there is no such live version."""
    found = await model_versions_json(conn, [(name, version)])
    return found[0] if found else None


async def latest_versions(
    conn: Queryable, name: str, stages: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """GetLatestVersions' ``model_versions``: the latest version in each of ``stages`` (stage
    names in any case; every stage when none are given). Raises RegistryError for an unknown
    model or stage."""
    wanted = {canonical_stage(stage) for stage in stages} if stages else None
    if not await conn.fetchval("SELECT 1 FROM registered_models WHERE name = $1", name):
        raise model_not_found(name)
    latest = (await _latest_versions(conn, [name]))[name]
    chosen = [v for v in latest if wanted is None or v.current_stage in wanted]
    return await model_versions_json(conn, [(name, v.version) for v in chosen])


async def model_version_by_alias(conn: Queryable, name: str, alias: str) -> dict[str, Any]:
    """GetModelVersionByAlias' ``model_version``; ``latest`` (any case) is the highest live
    version, as in MLflow. Raises RegistryError: unknown model (404), unknown alias (400, as
    MLflow), no live version for ``latest`` (404)."""
    if alias.lower() == "latest":
        versions = await latest_versions(conn, name)
        if not versions:
            raise latest_not_found(name)
        return max(versions, key=lambda v: int(v["version"]))
    row = await conn.fetchrow(
        "SELECT m.name, a.version FROM registered_models m "
        "LEFT JOIN registered_model_aliases a ON a.name = m.name AND a.alias = $2 "
        "WHERE m.name = $1",
        name,
        alias,
    )
    if row is None:
        raise model_not_found(name)
    if row["version"] is None:
        raise alias_not_found(alias)
    found = await model_version(conn, name, row["version"])
    if found is None:  # an alias always points at a live version; kept for safety
        raise version_not_found(name, row["version"])
    return found


# ---------------------------------------------------------------------------------------------
# Searches


async def search_registered_models(
    conn: Queryable,
    filter: str | None = None,
    max_results: int = 100,
    order_by: Sequence[str] | None = None,
    page_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """SearchRegisteredModels: one page and the next page's token (None at the end). Raises
    ``services.search.SearchError`` for a bad filter, order_by, token or page size."""
    compiled = compile_registered_model_search(
        RegisteredModelSearch(filter, list(order_by or ()), max_results, page_token)
    )
    page, token = compiled.page(await conn.fetch(compiled.sql, *compiled.args))
    return await registered_models_json(conn, [r["name"] for r in page]), token


async def search_model_versions(
    conn: Queryable,
    filter: str | None = None,
    max_results: int = 10_000,
    order_by: Sequence[str] | None = None,
    page_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """SearchModelVersions: one page and the next page's token (None at the end). Raises
    ``services.search.SearchError`` for a bad filter, order_by, token or page size."""
    compiled = compile_model_version_search(
        ModelVersionSearch(filter, list(order_by or ()), max_results, page_token)
    )
    page, token = compiled.page(await conn.fetch(compiled.sql, *compiled.args))
    keys = [(r["name"], r["version"]) for r in page]
    return await model_versions_json(conn, keys, with_aliases=False), token


# ---------------------------------------------------------------------------------------------
# The registry's events, for history and as-of


async def registry_events(
    conn: Queryable, *, after_seq: int = 0, up_to_seq: int | None = None
) -> list[RecordedEvent]:
    """The registry's events in the audit log, in order, with their recorded verdicts: what
    ``services.registry.history`` and ``as_of`` fold."""
    # Registry events all travel on the control stream; reading its chain alone goes through
    # the (chain, chain_seq) index instead of scanning every metric batch ever logged.
    chains = [
        r["chain"]
        for r in await conn.fetch("SELECT chain FROM audit_chain_heads")
        if r["chain"].rpartition("/")[0].endswith(".control")
    ]
    rows = await conn.fetch(
        "SELECT seq, event, verdict, error_code, reason, recorded_at FROM audit_log "
        "WHERE chain = ANY($1::text[]) AND event_type = ANY($2::text[]) "
        "AND seq > $3 AND ($4::bigint IS NULL OR seq <= $4) ORDER BY seq",
        chains,
        sorted(REGISTRY_EVENT_TYPES),
        after_seq,
        up_to_seq,
    )
    return [
        RecordedEvent(
            seq=r["seq"],
            event=decode(r["event"].encode()),
            verdict=r["verdict"],
            error_code=r["error_code"],
            reason=r["reason"],
            recorded_at=r["recorded_at"],
        )
        for r in rows
    ]
