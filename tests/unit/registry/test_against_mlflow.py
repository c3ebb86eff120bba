"""The registry fold against MLflow 3.17.2's own SQL registry store (in-process SQLite).

Random sequences of registry operations go to both; MLflow's clock is pinned to each event's
time. Every operation must get the same verdict (error code and message), and the registered
models, versions, latest versions, aliases and searches (through the test oracle) must read the
same as MLflow's REST JSON, but for the differences we chose (see services.registry.views):
MLflow leaves aliases out of a model's latest_versions, lists tags in storage order and appends
the database's error text to a rename conflict.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest

from schemas import (
    ModelAliasDeleted,
    ModelAliasSet,
    ModelVersionCreated,
    ModelVersionDeleted,
    ModelVersionStageTransitioned,
    ModelVersionTagDeleted,
    ModelVersionTagSet,
    ModelVersionUpdated,
    Payload,
    RegisteredModelCreated,
    RegisteredModelDeleted,
    RegisteredModelRenamed,
    RegisteredModelTagDeleted,
    RegisteredModelTagSet,
    RegisteredModelUpdated,
    Tag,
)
from services.registry import (
    EMPTY,
    RegistryRejection,
    RegistryState,
    apply,
    epoch_millis,
    latest_versions,
    registered_model_json,
    version_json,
)
from services.registry.errors import RegistryError, alias_not_found, latest_not_found
from tests.unit.registry import search_oracle
from tests.unit.registry.builders import NOBODY, event

sqlalchemy_store = pytest.importorskip("mlflow.store.model_registry.sqlalchemy_store")
entities = pytest.importorskip("mlflow.entities.model_registry")
MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException
message_to_json = pytest.importorskip("mlflow.utils.proto_json_utils").message_to_json

SEQUENCES = 20
STEPS = 30


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("mlflow-registry") / "registry.db"
    registry = sqlalchemy_store.SqlAlchemyStore(f"sqlite:///{path}")
    yield registry
    registry._dispose_engine()


def _rm_tags(tags: list[Tag]) -> list[Any]:
    return [entities.RegisteredModelTag(t.key, t.value) for t in tags]


CALLS: dict[type[Payload], Callable[[Any, Any], Any]] = {
    RegisteredModelCreated: lambda s, p: s.create_registered_model(
        p.name, tags=_rm_tags(p.tags), description=p.description
    ),
    RegisteredModelRenamed: lambda s, p: s.rename_registered_model(p.name, p.new_name),
    RegisteredModelUpdated: lambda s, p: s.update_registered_model(p.name, p.description),
    RegisteredModelDeleted: lambda s, p: s.delete_registered_model(p.name),
    RegisteredModelTagSet: lambda s, p: s.set_registered_model_tag(
        p.name, entities.RegisteredModelTag(p.key, p.value)
    ),
    RegisteredModelTagDeleted: lambda s, p: s.delete_registered_model_tag(p.name, p.key),
    ModelVersionCreated: lambda s, p: s.create_model_version(
        p.name,
        p.source,
        run_id=p.run_id,
        tags=[entities.ModelVersionTag(t.key, t.value) for t in p.tags],
        run_link=p.run_link,
        description=p.description,
    ),
    ModelVersionUpdated: lambda s, p: s.update_model_version(p.name, p.version, p.description),
    ModelVersionDeleted: lambda s, p: s.delete_model_version(p.name, p.version),
    ModelVersionStageTransitioned: lambda s, p: s.transition_model_version_stage(
        p.name, p.version, p.stage, p.archive_existing_versions
    ),
    ModelVersionTagSet: lambda s, p: s.set_model_version_tag(
        p.name, p.version, entities.ModelVersionTag(p.key, p.value)
    ),
    ModelVersionTagDeleted: lambda s, p: s.delete_model_version_tag(p.name, p.version, p.key),
    ModelAliasSet: lambda s, p: s.set_registered_model_alias(p.name, p.alias, p.version),
    ModelAliasDeleted: lambda s, p: s.delete_registered_model_alias(p.name, p.alias),
}


def _theirs(call: Callable[[], Any], millis: int | None = None) -> Any:
    """MLflow's answer: (error_code, message) for an MlflowException, else the result."""
    clock = mock.patch.object(sqlalchemy_store, "get_current_time_millis", return_value=millis)
    try:
        with clock:
            return call()
    except MlflowException as err:
        return (err.error_code, err.message)


def _rest(entity: Any) -> dict[str, Any]:
    return json.loads(message_to_json(entity.to_proto()))


def _ours_or_error(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except RegistryError as err:
        return (err.error_code, err.message)


def _sorted_list(body: dict[str, Any], field: str, key: str) -> None:
    if field in body:
        body[field] = sorted(body[field], key=lambda item: item[key])


def normalised_version(body: dict[str, Any], *, aliases: bool = True) -> dict[str, Any]:
    body = dict(body)
    _sorted_list(body, "tags", "key")
    if not aliases:
        body.pop("aliases", None)
    return body


def normalised_model(body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    _sorted_list(body, "tags", "key")
    _sorted_list(body, "aliases", "alias")
    if "latest_versions" in body:
        body["latest_versions"] = [
            normalised_version(v, aliases=False) for v in body["latest_versions"]
        ]
    return body


# ---------------------------------------------------------------------------------------------
# Random operations


class Scenario:
    """One random sequence over a few names of its own (so sequences share the store)."""

    STAGES = ["None", "staging", "Production", "ARCHIVED", "Prod", "archived", "production"]
    ALIASES = ["champion", "Challenger", "prod-1"]
    TAG_KEYS = ["k", "team", "mlflow.prompt.is_prompt"]

    def __init__(self, number: int) -> None:
        self.rng = random.Random(number)
        self.prefix = f"s{number}-"
        self.names = [f"{self.prefix}{c}" for c in "abc"]

    def _tags(self, allow_prompt: bool) -> list[Tag]:
        keys = self.TAG_KEYS if allow_prompt else self.TAG_KEYS[:2]
        return [
            Tag(key=self.rng.choice(keys), value=self.rng.choice(["v1", "v2", "true", "false"]))
            for _ in range(self.rng.choice([0, 0, 1, 2]))
        ]

    def _target(self, state: RegistryState) -> tuple[str, int]:
        """A name (mostly an existing model's) and a version (mostly a live one of it)."""
        rng = self.rng
        existing = [n for n in self.names if n in state.models]
        name = rng.choice(existing) if existing and rng.random() < 0.8 else rng.choice(self.names)
        model = state.models.get(name)
        live = [n for n, v in model.versions.items() if not v.deleted] if model else []
        if live and rng.random() < 0.85:
            return name, rng.choice(live)
        return name, rng.randint(1, (model.last_version if model else 0) + 2)

    def payload(self, state: RegistryState) -> Payload:
        rng = self.rng
        absent = [n for n in self.names if n not in state.models]
        if len(absent) == len(self.names) or (absent and rng.random() < 0.05):
            return RegisteredModelCreated(name=rng.choice(absent), tags=self._tags(True))
        name, version = self._target(state)
        description = rng.choice([None, "", "a model", "Detailed"])
        roll = rng.random()
        if roll < 0.10:
            return RegisteredModelCreated(name=name, description=description, tags=self._tags(True))
        if roll < 0.32:
            return ModelVersionCreated(
                name=name,
                source=rng.choice(["s3://bucket/x", "file:///tmp/y", "runs:/abc/model"]),
                run_id=rng.choice([None, "r1", "r2"]),
                run_link=rng.choice([None, "", "http://link"]),
                description=description,
                tags=self._tags(rng.random() < 0.1),
            )
        if roll < 0.46:
            return ModelVersionStageTransitioned(
                name=name,
                version=version,
                stage=rng.choice(self.STAGES),
                archive_existing_versions=rng.random() < 0.4,
            )
        if roll < 0.54:
            return ModelAliasSet(name=name, alias=rng.choice(self.ALIASES), version=version)
        if roll < 0.58:
            return ModelAliasDeleted(name=name, alias=rng.choice(self.ALIASES))
        if roll < 0.63:
            return ModelVersionDeleted(name=name, version=version)
        if roll < 0.67:
            return RegisteredModelRenamed(name=name, new_name=rng.choice(self.names))
        if roll < 0.69:
            return RegisteredModelDeleted(name=name)
        if roll < 0.73:
            return RegisteredModelUpdated(name=name, description=description)
        if roll < 0.78:
            return ModelVersionUpdated(name=name, version=version, description=description)
        if roll < 0.84:
            tag = self._tags(True) or [Tag(key="k", value="v1")]
            return RegisteredModelTagSet(name=name, key=tag[0].key, value=tag[0].value)
        if roll < 0.88:
            return RegisteredModelTagDeleted(name=name, key=rng.choice(self.TAG_KEYS))
        if roll < 0.95:
            tag = self._tags(False) or [Tag(key="team", value="v2")]
            return ModelVersionTagSet(
                name=name, version=version, key=tag[0].key, value=tag[0].value
            )
        return ModelVersionTagDeleted(name=name, version=version, key=rng.choice(self.TAG_KEYS))


def _compare_views(store: Any, state: RegistryState, scenario: Scenario) -> None:
    for name in scenario.names:
        model = state.models.get(name)
        theirs = _theirs(lambda name=name: _rest(store.get_registered_model(name)))
        ours = normalised_model(registered_model_json(model)) if model else None
        if model is None:
            assert theirs == (
                "RESOURCE_DOES_NOT_EXIST",
                f"Registered Model with name={name} not found",
            )
            continue
        assert normalised_model(theirs) == ours, name

        latest = _theirs(lambda name=name: [_rest(v) for v in store.get_latest_versions(name)])
        assert [normalised_version(v) for v in latest] == [
            normalised_version(version_json(model, v.version)) for v in latest_versions(model)
        ]
        for number in range(1, model.last_version + 2):
            theirs = _theirs(lambda n=number, name=name: _rest(store.get_model_version(name, n)))
            if model.live_version(number) is None:
                assert theirs == (
                    "RESOURCE_DOES_NOT_EXIST",
                    f"Model Version (name={name}, version={number}) not found",
                )
            else:
                assert normalised_version(theirs) == normalised_version(version_json(model, number))
        for alias in [*scenario.ALIASES, "latest", "LATEST"]:
            theirs = _theirs(
                lambda a=alias, name=name: _rest(store.get_model_version_by_alias(name, a))
            )
            ours_by_alias = _ours_or_error(lambda a=alias, m=model: _by_alias(m, a))
            if isinstance(theirs, dict):
                theirs = normalised_version(theirs)
            assert theirs == ours_by_alias, (name, alias)


def _by_alias(model: Any, alias: str) -> dict[str, Any]:
    if alias.lower() == "latest":
        latest = latest_versions(model)
        if not latest:
            raise latest_not_found(model.name)
        return normalised_version(version_json(model, max(v.version for v in latest)))
    if alias not in model.aliases:
        raise alias_not_found(alias)
    return normalised_version(version_json(model, model.aliases[alias]))


def _mlflow_pages(search: Callable[..., Any], **kwargs: Any) -> list[Any]:
    found: list[Any] = []
    token = None
    while True:
        page = search(max_results=3, page_token=token, **kwargs)
        found += list(page)
        token = page.token
        if not token:
            return found


def _compare_searches(store: Any, state: RegistryState, scenario: Scenario) -> None:
    p = scenario.prefix
    model_filters = [
        f"name LIKE '{p}%'",
        f"name LIKE '{p}%' AND tags.k = 'v1'",
        f"name LIKE '{p}%' AND tags.team != 'v1'",
        f"name LIKE '{p}%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
        f"name LIKE '{p}%' AND tags.`mlflow.prompt.is_prompt` = 'true'",
        f"name LIKE '{p}%' AND tags.`mlflow.prompt.is_prompt` = 'false'",
        f"name ILIKE '{p.upper()}%' AND tags.k LIKE 'v%'",
        f"name IN ('{p}a', '{p}c')",
        f"name LIKE '{p}%' AND name NOT IN ('{p}b')",
        f"name LIKE '{p}%' AND name != '{p}a'",
    ]
    model_orders: list[list[str]] = [["timestamp DESC"], ["last_updated_timestamp"], ["name DESC"]]
    for i, filter_string in enumerate(model_filters):
        for order_by in ([], model_orders[i % len(model_orders)]):
            theirs = [
                m.name
                for m in _mlflow_pages(
                    store.search_registered_models, filter_string=filter_string, order_by=order_by
                )
            ]
            ours = search_oracle.search_registered_models(state, filter_string, order_by)
            assert ours == theirs, (filter_string, order_by)
    version_filters = [
        f"name LIKE '{p}%'",
        f"name LIKE '{p}%' AND version_number >= 2",
        f"name LIKE '{p}%' AND version_number = '2'",
        f"name = '{p}a' AND tags.k != 'v1'",
        f"name IN ('{p}a', '{p}b') AND run_id = 'r1'",
        f"name LIKE '{p}%' AND run_id NOT IN ('r1')",
        f"name LIKE '{p}%' AND source_path LIKE '%x%'",
        f"name LIKE '{p}%' AND tags.`mlflow.prompt.is_prompt` = 'true'",
        f"name LIKE '{p}%' AND tags.team ILIKE 'V%'",
    ]
    version_orders: list[list[str]] = [
        ["creation_timestamp"],
        ["name DESC", "version_number ASC"],
        ["last_updated_timestamp"],
    ]
    for i, filter_string in enumerate(version_filters):
        for order_by in ([], version_orders[i % len(version_orders)]):
            theirs = [
                (v.name, int(v.version))
                for v in _mlflow_pages(
                    store.search_model_versions, filter_string=filter_string, order_by=order_by
                )
            ]
            ours = search_oracle.search_model_versions(state, filter_string, order_by)
            assert ours == theirs, (filter_string, order_by)


@pytest.mark.parametrize("number", range(SEQUENCES))
def test_random_sequence_matches_mlflow(store: Any, number: int) -> None:
    scenario = Scenario(number)
    state = EMPTY
    seconds = 0.0
    for step in range(STEPS):
        seconds += scenario.rng.choice([0, 0.001, 1, 2.5])  # equal times happen
        envelope = event(scenario.payload(state), seconds, actor=NOBODY)
        millis = epoch_millis(envelope.occurred_at)
        payload = envelope.payload
        theirs = _theirs(lambda p=payload: CALLS[type(p)](store, p), millis)
        try:
            state = apply(state, envelope).state
            ours = None
        except RegistryRejection as rejection:
            ours = (rejection.error_code, rejection.message)
        if isinstance(theirs, tuple) and isinstance(payload, RegisteredModelRenamed):
            theirs = (theirs[0], theirs[1].split(" Error: ")[0])  # MLflow appends the DB error
        assert ours == (theirs if isinstance(theirs, tuple) else None), (step, payload)
        if step % 10 == 9:
            _compare_views(store, state, scenario)
    _compare_views(store, state, scenario)
    _compare_searches(store, state, scenario)
