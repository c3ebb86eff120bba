"""Registry requests MLflow refuses, through the real mlflow client, in both deployments.

Each case must fail with MLflow 3.17.2's error code and exact message, and must leave the
registry as it was: the models, their versions, stages, tags, aliases and timestamps. The
expectations are MLflow's (its SQL registry store behind its REST handlers, as the 3.17.2
client sees them), not ledgerflow's. Note that the client looks the registered model up
before most version calls (``MlflowClient._raise_if_prompt``), so a version call on an unknown
model fails with the *model's* not-found message, except for a plain get of a version.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from tests.e2e.tracking.conftest import unique

# Stages are deprecated, and the client says so each time; they are still part of the API.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated since 2.9.0:FutureWarning")

DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
INVALID = "INVALID_PARAMETER_VALUE"
ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"

# MLflow's messages for these cases; {model}, {other}, {ghost} and {keys} are filled in.
MODEL_NOT_FOUND = r"Registered Model with name={ghost} not found"
VERSION_NOT_FOUND = r"Model Version \(name={model}, version=9\) not found"
# MLflow prints Python sets, whose order changes from process to process: {keys} matches any
# order and the test compares the keys themselves.
VALID_KEYS = r"Valid keys are '\{{(?P<keys>[^{{}}]*)\}}'"


@dataclass(frozen=True)
class Names:
    model: str  # two versions: 1 in Staging, 2 aliased "champion"; tags and a description
    other: str  # a second registered model, the target of a conflicting rename
    ghost: str  # never created
    fresh: str  # never created either: a rename's new name
    prefix: str  # of all four

    def fill(self, pattern: str) -> str:
        return pattern.format(
            model=re.escape(self.model), other=re.escape(self.other), ghost=re.escape(self.ghost)
        )


@dataclass(frozen=True)
class Registry:
    client: MlflowClient
    names: Names


@pytest.fixture(scope="module")
def registry(tracking_uri: str) -> Iterator[Registry]:
    """One model with versions, stages, tags and an alias per deployment; the cases only read it
    (or try to change it and must fail)."""
    client = MlflowClient(tracking_uri=tracking_uri)
    prefix = unique("errcase")
    names = Names(f"{prefix}-model", f"{prefix}-other", f"{prefix}-ghost", f"{prefix}-new", prefix)
    run_id = client.create_run(client.create_experiment(unique("reg-errors"))).info.run_id
    client.create_registered_model(names.model, tags={"team": "ml"}, description="keep me")
    for i in range(2):
        client.create_model_version(
            names.model, f"runs:/{run_id}/model", run_id=run_id, tags={"n": str(i)}
        )
    client.transition_model_version_stage(names.model, "1", "Staging")
    client.set_registered_model_alias(names.model, "champion", "2")
    client.update_model_version(names.model, "2", description="the good one")
    client.create_registered_model(names.other, tags={"owner": "ana"})
    yield Registry(client, names)


def snapshot(client: MlflowClient, names: Names) -> dict[str, Any]:
    """Everything a rejected request could have changed, timestamps included."""
    listed = client.search_registered_models(filter_string=f"name LIKE '{names.prefix}-%'")
    state: dict[str, Any] = {"models": [m.name for m in listed]}
    for name in (names.model, names.other):
        model = client.get_registered_model(name)
        versions = client.search_model_versions(f"name = '{name}'")
        state[name] = {
            "description": model.description,
            "tags": model.tags,
            "aliases": model.aliases,
            "updated": model.last_updated_timestamp,
            "latest": sorted((v.current_stage, v.version) for v in model.latest_versions),
            "versions": sorted(
                (
                    v.version,
                    v.current_stage,
                    v.description,
                    sorted(v.tags.items()),
                    sorted(v.aliases),
                    v.source,
                    v.run_id,
                    v.last_updated_timestamp,
                )
                for v in versions
            ),
        }
    return state


def test_fixture_state(registry: Registry) -> None:
    """What every case below must leave untouched."""
    names = registry.names
    state = snapshot(registry.client, names)
    assert state["models"] == [names.model, names.other]
    model = state[names.model]
    assert model["description"] == "keep me" and model["tags"] == {"team": "ml"}
    assert model["aliases"] == {"champion": "2"}
    assert [(v[0], v[1], v[3]) for v in model["versions"]] == [
        ("1", "Staging", [("n", "0")]),
        ("2", "None", [("n", "1")]),
    ]
    assert model["versions"][1][2] == "the good one"
    assert state[names.other]["tags"] == {"owner": "ana"} and state[names.other]["versions"] == []


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[MlflowClient, Names], Any]
    error_code: str
    message: str  # a regex for the whole message, after "<error_code>: "
    keys: frozenset[str] | None = None  # the set MLflow prints at {keys}
    marks: tuple[Any, ...] = ()


CASES = [
    # -- a registered model that does not exist
    Case(
        "rename-unknown-model",
        lambda c, n: c.rename_registered_model(n.ghost, n.fresh),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "update-unknown-model",
        lambda c, n: c.update_registered_model(n.ghost, description="x"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "delete-unknown-model",
        lambda c, n: c.delete_registered_model(n.ghost),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "set-tag-unknown-model",
        lambda c, n: c.set_registered_model_tag(n.ghost, "k", "v"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "delete-tag-unknown-model",
        lambda c, n: c.delete_registered_model_tag(n.ghost, "team"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "latest-versions-unknown-model",
        lambda c, n: c.get_latest_versions(n.ghost),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "create-version-unknown-model",
        lambda c, n: c.create_model_version(n.ghost, "s3://bucket/model"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "set-alias-unknown-model",
        lambda c, n: c.set_registered_model_alias(n.ghost, "champion", "1"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "delete-alias-unknown-model",
        lambda c, n: c.delete_registered_model_alias(n.ghost, "champion"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "get-by-alias-unknown-model",
        lambda c, n: c.get_model_version_by_alias(n.ghost, "champion"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    # -- a version of a registered model that does not exist: only a plain get reaches the
    # version lookup, the other calls stop at the client's model lookup
    Case(
        "get-version-unknown-model",
        lambda c, n: c.get_model_version(n.ghost, "1"),
        DOES_NOT_EXIST,
        r"Model Version \(name={ghost}, version=1\) not found",
    ),
    Case(
        "update-version-unknown-model",
        lambda c, n: c.update_model_version(n.ghost, "1", description="x"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "delete-version-unknown-model",
        lambda c, n: c.delete_model_version(n.ghost, "1"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "transition-version-unknown-model",
        lambda c, n: c.transition_model_version_stage(n.ghost, "1", "Production"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "download-uri-unknown-model",
        lambda c, n: c.get_model_version_download_uri(n.ghost, "1"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "set-version-tag-unknown-model",
        lambda c, n: c.set_model_version_tag(n.ghost, "1", "k", "v"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    Case(
        "delete-version-tag-unknown-model",
        lambda c, n: c.delete_model_version_tag(n.ghost, "1", "n"),
        DOES_NOT_EXIST,
        MODEL_NOT_FOUND,
    ),
    # -- an unknown version of an existing model
    Case(
        "update-unknown-version",
        lambda c, n: c.update_model_version(n.model, "9", description="x"),
        DOES_NOT_EXIST,
        VERSION_NOT_FOUND,
    ),
    Case(
        "delete-unknown-version",
        lambda c, n: c.delete_model_version(n.model, "9"),
        DOES_NOT_EXIST,
        VERSION_NOT_FOUND,
    ),
    Case(
        "transition-unknown-version",
        lambda c, n: c.transition_model_version_stage(
            n.model, "9", "Production", archive_existing_versions=True
        ),
        DOES_NOT_EXIST,
        VERSION_NOT_FOUND,
    ),
    Case(
        "download-uri-unknown-version",
        lambda c, n: c.get_model_version_download_uri(n.model, "9"),
        DOES_NOT_EXIST,
        VERSION_NOT_FOUND,
    ),
    Case(
        "set-tag-unknown-version",
        lambda c, n: c.set_model_version_tag(n.model, "9", "k", "v"),
        DOES_NOT_EXIST,
        VERSION_NOT_FOUND,
    ),
    Case(
        "delete-tag-unknown-version",
        lambda c, n: c.delete_model_version_tag(n.model, "9", "n"),
        DOES_NOT_EXIST,
        VERSION_NOT_FOUND,
    ),
    # -- names
    Case(
        # MLflow's SQL store appends the database's error text; ledgerflow leaves it out (a
        # chosen difference, see tests/unit/registry/test_against_mlflow.py), so it is optional.
        "rename-to-existing-name",
        lambda c, n: c.rename_registered_model(n.model, n.other),
        ALREADY_EXISTS,
        r"Registered Model \(name={other}\) already exists\.(?: Error: .*)?",
    ),
    Case(
        "create-empty-name",
        lambda c, n: c.create_registered_model(""),
        INVALID,
        r"Missing value for required parameter 'name'\. "
        r"See the API docs for more information about request parameters\.",
    ),
    # -- stages
    Case(
        "latest-versions-invalid-stage",
        lambda c, n: c.get_latest_versions(n.model, ["Deployed"]),
        INVALID,
        r"Invalid Model Version stage: Deployed\. "
        r"Value must be one of None, Staging, Production, Archived\.",
    ),
    Case(
        "transition-invalid-stage-lowercase",
        lambda c, n: c.transition_model_version_stage(n.model, "2", "prod"),
        INVALID,
        r"Invalid Model Version stage: prod\. "
        r"Value must be one of None, Staging, Production, Archived\.",
    ),
    # -- searches
    Case(
        "search-models-or",
        lambda c, n: c.search_registered_models(filter_string="name = 'a' OR name = 'b'"),
        INVALID,
        r"Invalid clause\(s\) in filter string: OR",
    ),
    Case(
        "search-models-unquoted-value",
        lambda c, n: c.search_registered_models(filter_string="name = a"),
        INVALID,
        r"Parameter value is either not quoted or unidentified quote types used for string "
        r"value a\. Use either single or double quotes\.",
    ),
    Case(
        "search-models-unsupported-attribute",
        lambda c, n: c.search_registered_models(filter_string="run_id = 'x'"),
        INVALID,
        r"Invalid attribute key 'run_id' specified\. " + VALID_KEYS,
        keys=frozenset({"name"}),
    ),
    Case(
        "search-models-bad-order-by",
        lambda c, n: c.search_registered_models(order_by=["foo"]),
        INVALID,
        r"Invalid order by key 'foo' specified\. " + VALID_KEYS,
        keys=frozenset({"name", "timestamp"}),
    ),
    Case(
        # The handler checks the query parameter as sent, a string: hence the quotes and type.
        "search-models-max-results-over-limit",
        lambda c, n: c.search_registered_models(max_results=1001),
        INVALID,
        r"Invalid value \"1001\" for parameter 'max_results' supplied:  Hint: Value was of "
        r"type 'str'\. See the API docs for more information about request parameters\.",
    ),
    Case(
        "search-versions-or",
        lambda c, n: c.search_model_versions(f"name = '{n.model}' OR name = '{n.other}'"),
        INVALID,
        r"Invalid clause\(s\) in filter string: OR",
    ),
    Case(
        "search-versions-unsupported-attribute",
        lambda c, n: c.search_model_versions("foo = 'x'"),
        INVALID,
        r"Invalid attribute key 'foo' specified\. " + VALID_KEYS,
        keys=frozenset({"name", "run_id", "source_path", "version_number"}),
    ),
    Case(
        "search-versions-bad-order-by",
        lambda c, n: c.search_model_versions(f"name = '{n.model}'", order_by=["foo"]),
        INVALID,
        r"Invalid attribute key 'foo' specified\. " + VALID_KEYS,
        keys=frozenset({"name", "version_number", "creation_timestamp", "last_updated_timestamp"}),
    ),
    Case(
        "search-versions-max-results-over-limit",
        lambda c, n: c.search_model_versions(f"name = '{n.model}'", max_results=200_001),
        INVALID,
        r"Invalid value \"200001\" for parameter 'max_results' supplied:  Hint: Value was of "
        r"type 'str'\. See the API docs for more information about request parameters\.",
    ),
]


def check_refused(registry: Registry, case: Case) -> None:
    """The case fails as MLflow's does and changes nothing."""
    client, names = registry.client, registry.names
    before = snapshot(client, names)
    with pytest.raises(MlflowException) as caught:
        case.call(client, names)
    err = caught.value
    assert isinstance(err, RestException), f"not the server's refusal: {err!r}"
    assert err.error_code == case.error_code, err.message
    match = re.fullmatch(f"{case.error_code}: {names.fill(case.message)}", err.message, re.DOTALL)
    assert match, err.message
    if case.keys is not None:
        assert ast.literal_eval("{" + match["keys"] + "}") == case.keys, err.message
    assert snapshot(client, names) == before


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_refused_as_mlflow_and_nothing_changes(registry: Registry, case: Case) -> None:
    check_refused(registry, case)


def test_state_after_all_refusals(registry: Registry) -> None:
    """After every refusal above (in this deployment) the model still has all it had."""
    client, names = registry.client, registry.names
    test_fixture_state(registry)
    assert client.get_model_version_by_alias(names.model, "champion").version == "2"
    assert {v.current_stage: v.version for v in client.get_latest_versions(names.model)} == {
        "Staging": "1",
        "None": "2",
    }
    with pytest.raises(RestException) as caught:
        client.get_registered_model(names.fresh)
    assert caught.value.error_code == DOES_NOT_EXIST


def test_deleting_an_absent_tag_or_alias_is_accepted(registry: Registry) -> None:
    """MLflow answers these with success and changes nothing (timestamps included)."""
    client, names = registry.client, registry.names
    before = snapshot(client, names)
    client.delete_registered_model_tag(names.model, "absent")
    client.delete_model_version_tag(names.model, "1", "absent")
    client.delete_registered_model_alias(names.model, "absent")
    assert snapshot(client, names) == before


# Where MLflow's REST server answers differently from its SQL store used directly


def test_version_created_without_description_reads_empty(registry: Registry) -> None:
    # MLflow's handler passes the message's proto default on: the description is "".
    assert registry.client.get_model_version(registry.names.model, "1").description == ""


def test_only_direct_version_reads_carry_aliases(registry: Registry) -> None:
    client, names = registry.client, registry.names
    assert client.get_model_version(names.model, "2").aliases == ["champion"]
    assert client.get_model_version_by_alias(names.model, "champion").aliases == ["champion"]
    latest = {v.version: v.aliases for v in client.get_latest_versions(names.model)}
    assert latest == {"1": [], "2": ["champion"]}
    # MLflow 3.17.2's search and a registered model's latest versions leave them out
    found = client.search_model_versions(f"name = '{names.model}'")
    assert {v.version: v.aliases for v in found} == {"1": [], "2": []}
    model = client.get_registered_model(names.model)
    assert all(v.aliases == [] for v in model.latest_versions)
