"""Registry search parsing against MLflow 3.17.2's own: the same clauses and orderings, the same
refusals (MLflow validates in SearchModelUtils / SearchModelVersionUtils and again in its SQL
store; both are run here, the store's without a database since no query is executed)."""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest

from services.search.errors import SearchError
from services.search.grammar import parse_filter, render_set
from services.search.registry import (
    MODEL_VERSION_SPEC,
    REGISTERED_MODEL_SPEC,
    ModelVersionSearch,
    RegisteredModelSearch,
    compile_model_version_search,
    compile_registered_model_search,
)

search_utils = pytest.importorskip("mlflow.utils.search_utils")
sqlalchemy_store = pytest.importorskip("mlflow.store.model_registry.sqlalchemy_store")
MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException

_SET = re.compile(r"\{'[^{}]*'\}")


def normalised(message: str) -> str:
    return _SET.sub(lambda m: render_set(ast.literal_eval(m.group())), message)


@pytest.fixture(scope="module")
def store() -> Any:
    registry = sqlalchemy_store.SqlAlchemyStore.__new__(sqlalchemy_store.SqlAlchemyStore)
    registry._get_active_workspace = lambda: "default"
    return registry


def ours(kind: str, text: str) -> Any:
    spec = REGISTERED_MODEL_SPEC if kind == "models" else MODEL_VERSION_SPEC
    try:
        if kind == "models":
            compile_registered_model_search(RegisteredModelSearch(filter=text))
        else:
            compile_model_version_search(ModelVersionSearch(filter=text))
        return [(c.entity, c.key, c.op, c.value) for c in parse_filter(text, spec)]
    except SearchError as err:
        return normalised(err.message)


def theirs(store: Any, kind: str, text: str) -> Any:
    try:
        if kind == "models":
            parsed = search_utils.SearchModelUtils.parse_search_filter(text)
            store._get_search_registered_model_filter_query(None, parsed, "postgresql")
        else:
            parsed = search_utils.SearchModelVersionUtils.parse_search_filter(text)
            store._get_search_model_versions_filter_clauses(parsed, "postgresql")
    except MlflowException as err:
        return normalised(err.message)
    except (ValueError, TypeError):
        return "unhandled"  # MLflow fails with a 500 (IS NULL, for one)
    return [(p["type"], p["key"], p["comparator"], p["value"]) for p in parsed]


MODEL_FILTERS = [
    "",
    "name = 'a'",
    'name = "a"',
    "name != 'a'",
    "name LIKE 'a%'",
    "name ILIKE 'A%'",
    "name IN ('a', 'b')",
    "name NOT IN ('a')",
    "name IN ('a',)",
    "attribute.name = 'a'",
    "attributes.name = 'a'",
    "tags.k = 'v'",
    "tag.k != 'v'",
    "tags.`mlflow.prompt.is_prompt` != 'true'",
    "name LIKE 'x%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
    "tags.\"my key\" = 'v'",
    "name = 'a' AND tags.k LIKE '%x%'",
    "name LIKE 'a%' AND tags.team = 'x' AND tags.k != 'y'",
    "name > 'a'",
    "tags.k > 'v'",
    "tags.k IN ('a')",
    "name = 5",
    "tags.k = 5",
    "run_id = 'x'",
    "creation_timestamp > 5",
    "metrics.x > 1",
    "name = 'a' OR name = 'b'",
    "name = a",
    "name RLIKE 'a'",
    "tags.k RLIKE 'a'",
    "name = 'a' AND",
    "name IN ('a', 1)",
    "tags.k NOT IN ('a')",
    "name NOT LIKE 'a'",
]

VERSION_FILTERS = [
    "",
    "name = 'm'",
    "name IN ('a', 'b')",
    "name NOT IN ('a')",
    "version_number = 2",
    "version_number = '2'",
    "version_number > 1",
    "version_number != -1",
    "version_number >= 1.5",
    "version_number = 1e2",
    "version_number = 'x'",
    "version_number LIKE '1'",
    "version_number IN ('1')",
    "run_id = 'r'",
    "run_id IN ('a', 'b')",
    "run_id NOT IN ('a')",
    "run_id LIKE 'a%'",
    "source_path = 's3://x'",
    "source_path LIKE '%x'",
    "source_path ILIKE '%X'",
    "source_path IN ('a')",
    "tags.k = 'v'",
    "tags.k != 'v'",
    "tags.k > 'v'",
    "tags.`mlflow.prompt.is_prompt` = 'true'",
    "creation_timestamp > 5",
    "last_updated_timestamp > 5",
    "run_id = 5",
    "name = 5",
    "foo = 'x'",
    "metric.x = 1",
    "tags.k = 5",
    "name = 'a' OR name = 'b'",
    "name ILIKE 'M%' AND version_number != 3 AND tags.k LIKE 'v%'",
]


@pytest.mark.parametrize("text", MODEL_FILTERS)
def test_registered_model_filters_parse_as_mlflows(store: Any, text: str) -> None:
    expected = theirs(store, "models", text)
    if expected == "unhandled":
        assert isinstance(ours("models", text), str)
    else:
        assert ours("models", text) == expected


@pytest.mark.parametrize("text", VERSION_FILTERS)
def test_model_version_filters_parse_as_mlflows(store: Any, text: str) -> None:
    expected = theirs(store, "versions", text)
    if expected == "unhandled":
        assert isinstance(ours("versions", text), str)
    else:
        assert ours("versions", text) == expected


@pytest.mark.parametrize(
    "text", ["tags.k IS NULL", "tags.k IS NOT NULL", "name IS NULL", "run_id IS NULL"]
)
def test_null_checks_are_refused_where_mlflow_fails_with_a_500(store: Any, text: str) -> None:
    for kind in ("models", "versions"):
        assert not isinstance(theirs(store, kind, text), list)  # MLflow never runs them
        assert isinstance(ours(kind, text), str)  # we refuse them with a message (a 400)


# ---------------------------------------------------------------------------------------------
# order_by

_MODEL_COLUMNS = {'m.name COLLATE "C"': "name", "m.last_updated_timestamp": "last_updated_time"}
_VERSION_COLUMNS = {
    'v.name COLLATE "C"': "name",
    "v.version": "version",
    "v.creation_timestamp": "creation_time",
    "v.last_updated_timestamp": "last_updated_time",
}


def _order(kind: str, order_by: list[str]) -> Any:
    try:
        if kind == "models":
            compiled = compile_registered_model_search(RegisteredModelSearch(order_by=order_by))
            columns = _MODEL_COLUMNS
        else:
            compiled = compile_model_version_search(ModelVersionSearch(order_by=order_by))
            columns = _VERSION_COLUMNS
    except SearchError as err:
        return normalised(err.message)
    return [(columns[k.sql], not k.descending) for k in compiled.sort_keys]


def _their_order(kind: str, order_by: list[str]) -> Any:
    store = sqlalchemy_store.SqlAlchemyStore
    try:
        if kind == "models":
            clauses = store._parse_search_registered_models_order_by(order_by)
        else:
            clauses = store._parse_search_model_versions_order_by(order_by)
    except MlflowException as err:
        return normalised(err.message)
    return [(c.element.name, c.modifier.__name__ == "asc_op") for c in clauses]


@pytest.mark.parametrize(
    "order_by",
    [
        [],
        ["name"],
        ["name DESC"],
        ["timestamp"],
        ["timestamp DESC"],
        ["last_updated_timestamp ASC"],
        ["timestamp desc", "name desc"],
        ["name", "timestamp"],
        ["name", "name DESC"],
        ["timestamp", "last_updated_timestamp"],
        ["creation_timestamp"],
        ["foo"],
        ["name SIDEWAYS"],
        ["name DESC extra"],
        ["tags.x"],
        ["`name`"],
        ['"name" DESC'],
        ['"name"'],
        ["`timestamp` asc"],
        [" name "],
        ["attribute.name"],
    ],
)
def test_registered_model_order_by_as_mlflows(order_by: list[str]) -> None:
    assert _order("models", order_by) == _their_order("models", order_by)


@pytest.mark.parametrize(
    "order_by",
    [
        ["last_updated_timestamp DESC", "name ASC", "version_number DESC"],
        ["name"],
        ["version_number DESC"],
        ["creation_timestamp"],
        ["last_updated_timestamp DESC", "name"],
        ["name", "name DESC"],
        ["tags.name"],
        ["tags.foo"],
        ["foo"],
        [" name"],
        ["metrics.x"],
        ["run_id"],
        ["version_number SIDEWAYS"],
        ["attribute.version_number"],
        ["name DESC", "version_number ASC"],
    ],
)
def test_model_version_order_by_as_mlflows(order_by: list[str]) -> None:
    assert _order("versions", order_by) == _their_order("versions", order_by)


# ---------------------------------------------------------------------------------------------
# Page sizes and tokens


@pytest.mark.parametrize(
    ("kind", "max_results", "message"),
    [
        (
            "models",
            1001,
            "Invalid value for request parameter max_results. It must be at most 1000, but got "
            "value 1001",
        ),
        (
            "versions",
            200_001,
            "Invalid value for request parameter max_results. It must be at most 200000, but "
            "got value 200001",
        ),
        (
            "versions",
            0,
            "Invalid value for max_results. It must be a positive integer, but got 0",
        ),
    ],
)
def test_page_size_limits(kind: str, max_results: int, message: str) -> None:
    with pytest.raises(SearchError) as caught:
        if kind == "models":
            compile_registered_model_search(RegisteredModelSearch(max_results=max_results))
        else:
            compile_model_version_search(ModelVersionSearch(max_results=max_results))
    assert caught.value.message == message


def test_page_tokens_belong_to_their_search() -> None:
    compiled = compile_registered_model_search(RegisteredModelSearch(filter="name LIKE 'a%'"))
    token = compiled.next_page_token({"sk0": "abc"})
    again = compile_registered_model_search(
        RegisteredModelSearch(filter="name LIKE 'a%'", page_token=token)
    )
    assert 'm.name COLLATE "C" >' in again.sql
    with pytest.raises(SearchError, match="issued for a different search"):
        compile_registered_model_search(RegisteredModelSearch(filter="", page_token=token))
    with pytest.raises(SearchError, match="could not base64-decode"):
        compile_model_version_search(ModelVersionSearch(page_token="%%%"))


def test_prompt_clauses_select_or_exclude_prompts() -> None:
    default = compile_registered_model_search(RegisteredModelSearch())
    assert "NOT EXISTS" in default.sql
    client = compile_registered_model_search(
        RegisteredModelSearch(filter="tag.`mlflow.prompt.is_prompt` != 'true'")
    )
    assert client.sql == default.sql  # the client's clause is MLflow's default, dropped
    prompts = compile_registered_model_search(
        RegisteredModelSearch(filter="tags.`mlflow.prompt.is_prompt` = 'TRUE'")
    )
    assert "NOT EXISTS" not in prompts.sql and "mlflow.prompt.is_prompt" in prompts.args
