"""The model registry's projection: load the affected models, let the domain decide, write back
the difference.

Every decision (names, version numbers, stages, aliases, timestamps) is made by the pure
``services.registry.apply``; this module only moves state between the read model and the domain
values. Control events arrive one at a time in log order, so nothing races here, but the models'
rows (and, for names not yet taken, an advisory lock on the name) are locked all the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from schemas import Envelope, RegisteredModelRenamed
from services.projector.projections import projects
from services.projector.verdict import Rejection, Verdict
from services.registry import (
    REGISTRY_EVENT_TYPES,
    ModelVersion,
    RegisteredModel,
    RegistryRejection,
    RegistryState,
    apply,
    names_of,
    versions_read,
)
from services.store.registry import load_state


@projects(*sorted(REGISTRY_EVENT_TYPES))
async def project(conn: asyncpg.Connection, event: Envelope) -> Verdict:
    names = sorted(set(names_of(event.payload)))
    # only the versions the decision reads: a model's whole history would make every write
    # cost as much as the versions it has
    before = await load_state(conn, names, lock=True, versions=versions_read(event.payload))
    try:
        applied = apply(before, event)
    except RegistryRejection as rejection:
        raise Rejection(rejection.error_code, rejection.message, rejection.details) from None
    payload = event.payload
    renames = (
        {payload.name: payload.new_name}
        if isinstance(payload, RegisteredModelRenamed) and payload.name != payload.new_name
        else {}
    )
    await write_difference(conn, before, applied.state, renames)
    return Verdict(accepted=True, outcome=applied.outcome)


async def write_difference(
    conn: asyncpg.Connection,
    before: RegistryState,
    after: RegistryState,
    renames: Mapping[str, str] | None = None,
) -> None:
    """Make the read model, which holds ``before``, hold ``after``. ``renames`` (old -> new name)
    says which models changed name; everything else is matched by name. Also loads a whole state
    into an empty read model (``before`` = EMPTY)."""
    renames = renames or {}
    for old, new in renames.items():
        # one row; the foreign keys carry the name to versions, tags and aliases
        await conn.execute("UPDATE registered_models SET name = $2 WHERE name = $1", old, new)
    moved = {renames.get(name, name): model for name, model in before.models.items()}
    gone = sorted(name for name in moved if name not in after.models)
    if gone:
        await conn.execute("DELETE FROM registered_models WHERE name = ANY($1::text[])", gone)
    writes = _Writes()
    for name in sorted(after.models):
        writes.model(moved.get(name), after.models[name])
    await writes.flush(conn)


# ---------------------------------------------------------------------------------------------
# The difference, collected per table and written one statement per table (UNNEST arrays), so a
# bulk load costs a handful of round trips rather than one per row.


def _model_row(model: RegisteredModel) -> tuple[Any, ...]:
    return (
        model.name,
        model.creation_timestamp,
        model.last_updated_timestamp,
        model.user_id,
        model.description,
        model.last_version,
    )


def _version_row(name: str, version: ModelVersion) -> tuple[Any, ...]:
    return (
        name,
        version.version,
        version.creation_timestamp,
        version.last_updated_timestamp,
        version.user_id,
        version.description,
        version.current_stage,
        version.source,
        version.run_id,
        version.run_link,
        version.model_id,
        version.status,
    )


_MODEL_COLUMNS = (
    ("name", "text"),
    ("creation_timestamp", "bigint"),
    ("last_updated_timestamp", "bigint"),
    ("user_id", "text"),
    ("description", "text"),
    ("last_version", "int"),
)
_VERSION_COLUMNS = (
    ("name", "text"),
    ("version", "int"),
    ("creation_timestamp", "bigint"),
    ("last_updated_timestamp", "bigint"),
    ("user_id", "text"),
    ("description", "text"),
    ("current_stage", "text"),
    ("source", "text"),
    ("run_id", "text"),
    ("run_link", "text"),
    ("model_id", "text"),
    ("status", "text"),
)


def _unnest(columns: Sequence[tuple[str, str]]) -> str:
    arrays = ", ".join(f"${i + 1}::{kind}[]" for i, (_, kind) in enumerate(columns))
    names = ", ".join(column for column, _ in columns)
    return f"unnest({arrays}) AS u({names})"


async def _run(conn: asyncpg.Connection, sql: str, rows: list[tuple[Any, ...]], width: int) -> None:
    if rows:
        await conn.execute(sql, *([row[i] for row in rows] for i in range(width)))


def _key_diff(old: Mapping[Any, Any], new: Mapping[Any, Any]) -> tuple[list[Any], list[Any]]:
    """(keys set or changed, keys removed)."""
    changed = [key for key, value in new.items() if old.get(key, _MISSING) != value]
    removed = [key for key in old if key not in new]
    return changed, removed


_MISSING = object()


@dataclass
class _Writes:
    new_models: list[tuple[Any, ...]] = field(default_factory=list)
    changed_models: list[tuple[Any, ...]] = field(default_factory=list)
    new_versions: list[tuple[Any, ...]] = field(default_factory=list)
    changed_versions: list[tuple[Any, ...]] = field(default_factory=list)
    model_tags: list[tuple[Any, ...]] = field(default_factory=list)
    gone_model_tags: list[tuple[Any, ...]] = field(default_factory=list)
    version_tags: list[tuple[Any, ...]] = field(default_factory=list)
    gone_version_tags: list[tuple[Any, ...]] = field(default_factory=list)
    aliases: list[tuple[Any, ...]] = field(default_factory=list)
    gone_aliases: list[tuple[Any, ...]] = field(default_factory=list)

    def model(self, old: RegisteredModel | None, new: RegisteredModel) -> None:
        name = new.name
        if old is None:
            self.new_models.append(_model_row(new))
        elif _model_row(old)[1:] != _model_row(new)[1:]:
            self.changed_models.append(_model_row(new))
        old_versions = old.versions if old else {}
        for number in sorted(new.versions):
            version = new.versions[number]
            previous = old_versions.get(number)
            if previous is None:
                self.new_versions.append(_version_row(name, version))
            elif _version_row(name, previous) != _version_row(name, version):
                self.changed_versions.append(_version_row(name, version))
            changed, removed = _key_diff(previous.tags if previous else {}, version.tags)
            self.version_tags += [(name, number, k, version.tags[k]) for k in changed]
            self.gone_version_tags += [(name, number, k) for k in removed]
        changed, removed = _key_diff(old.tags if old else {}, new.tags)
        self.model_tags += [(name, k, new.tags[k]) for k in changed]
        self.gone_model_tags += [(name, k) for k in removed]
        changed, removed = _key_diff(old.aliases if old else {}, new.aliases)
        self.aliases += [(name, a, new.aliases[a]) for a in changed]
        self.gone_aliases += [(name, a) for a in removed]

    async def flush(self, conn: asyncpg.Connection) -> None:
        model_columns = ", ".join(c for c, _ in _MODEL_COLUMNS)
        version_columns = ", ".join(c for c, _ in _VERSION_COLUMNS)
        await _run(
            conn,
            f"INSERT INTO registered_models ({model_columns}) "
            f"SELECT * FROM {_unnest(_MODEL_COLUMNS)}",
            self.new_models,
            len(_MODEL_COLUMNS),
        )
        await _run(
            conn,
            f"INSERT INTO model_versions ({version_columns}) "
            f"SELECT * FROM {_unnest(_VERSION_COLUMNS)}",
            self.new_versions,
            len(_VERSION_COLUMNS),
        )
        await _run(
            conn,
            "UPDATE registered_models m SET "
            + ", ".join(f"{c} = u.{c}" for c, _ in _MODEL_COLUMNS[1:])
            + f" FROM {_unnest(_MODEL_COLUMNS)} WHERE m.name = u.name",
            self.changed_models,
            len(_MODEL_COLUMNS),
        )
        await _run(
            conn,
            "UPDATE model_versions v SET "
            + ", ".join(f"{c} = u.{c}" for c, _ in _VERSION_COLUMNS[2:])
            + f" FROM {_unnest(_VERSION_COLUMNS)} "
            "WHERE v.name = u.name AND v.version = u.version",
            self.changed_versions,
            len(_VERSION_COLUMNS),
        )
        await _run(
            conn,
            "DELETE FROM registered_model_aliases a "
            f"USING {_unnest((('name', 'text'), ('alias', 'text')))} "
            "WHERE a.name = u.name AND a.alias = u.alias",
            self.gone_aliases,
            2,
        )
        await _run(
            conn,
            "DELETE FROM registered_model_tags t "
            f"USING {_unnest((('name', 'text'), ('key', 'text')))} "
            "WHERE t.name = u.name AND t.key = u.key",
            self.gone_model_tags,
            2,
        )
        await _run(
            conn,
            "DELETE FROM model_version_tags t "
            f"USING {_unnest((('name', 'text'), ('version', 'int'), ('key', 'text')))} "
            "WHERE t.name = u.name AND t.version = u.version AND t.key = u.key",
            self.gone_version_tags,
            3,
        )
        await _run(
            conn,
            "INSERT INTO registered_model_tags (name, key, value) "
            f"SELECT * FROM {_unnest((('name', 'text'), ('key', 'text'), ('value', 'text')))} "
            "ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value",
            self.model_tags,
            3,
        )
        await _run(
            conn,
            "INSERT INTO model_version_tags (name, version, key, value) SELECT * FROM "
            + _unnest((("name", "text"), ("version", "int"), ("key", "text"), ("value", "text")))
            + " ON CONFLICT (name, version, key) DO UPDATE SET value = EXCLUDED.value",
            self.version_tags,
            4,
        )
        await _run(
            conn,
            "INSERT INTO registered_model_aliases (name, alias, version) "
            f"SELECT * FROM {_unnest((('name', 'text'), ('alias', 'text'), ('version', 'int')))} "
            "ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version",
            self.aliases,
            3,
        )
